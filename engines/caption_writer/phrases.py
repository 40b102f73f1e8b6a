"""The offline writer's sentences, by tone, platform and kind of media.

Placeholders: ``{subject}`` (what the picture shows, from its file name, or "this
picture"), ``{kind}`` ("picture" or, for a video without sound, "video"),
``{colours}``/``{colour}`` (its main colours by name), ``{frame}`` ("wide",
"tall" or "square"), ``{width}``/``{height}``, ``{fit}`` (where such a frame works),
``{quote}`` (a sentence from the transcript), ``{media}`` ("recording" or "video").
Typographic quotes and apostrophes: they read well and need no escaping in a page.
"""

from __future__ import annotations

PLATFORM_HASHTAGS = {
    "instagram": ["#instagood", "#photooftheday", "#reels"],
    "tiktok": ["#fyp", "#foryou", "#tiktok"],
    "youtube": ["#youtube", "#shorts", "#subscribe"],
    "linkedin": ["#leadership", "#learning", "#careers"],
    "x": ["#trending"],
}

TONE_CLOSERS = {
    "professional": "What is your view?",
    "casual": "Thoughts?",
    "funny": "You’re welcome.",
    "inspirational": "Keep going.",
    "informative": "Save this for later.",
}

PLATFORM_ASKS = {
    "instagram": ["Double tap if this is your kind of view.", "Pin it to your next moodboard."],
    "tiktok": ["Follow for more like this.", "Send this to someone who needs it."],
    "youtube": ["Subscribe for more like this.", "Tell us in the comments what you noticed."],
    "linkedin": ["Curious what stands out to you.", "What would you add?"],
    "x": ["What do you see first?", "Reply with yours."],
}

SPOKEN_ASKS = {
    "instagram": ["Share it with someone who needs to hear it.", "Tap the link to hear more."],
    "tiktok": ["Follow for more like this.", "Send this to someone who needs it."],
    "youtube": ["Subscribe for more like this.", "Tell us in the comments what stayed with you."],
    "linkedin": ["Curious what stands out to you.", "What would you add?"],
    "x": ["Agree?", "Reply with yours."],
}

# --- Pictures ------------------------------------------------------------------------------

# (sentence, needs a subject): without a file name worth reading, "this picture" stands in,
# and sentences that would then say nothing are left out.
PICTURE_OPENERS = {
    "professional": [("A closer look at {subject}.", False),
                     ("Sharing {subject}, in a {frame} frame.", False),
                     ("{subject}, as it looks today.", True)],
    "casual": [("Had to share {subject}.", False),
               ("Current view: {subject}.", True),
               ("A little bit of {subject} for your feed.", True)],
    "funny": [("Nobody asked, but here is {subject} anyway.", False),
              ("{subject}: the sequel nobody saw coming.", True),
              ("Me, pretending {subject} was not the whole plan today.", True)],
    "inspirational": [("Sometimes {subject} is all the reminder you need.", True),
                      ("Find the beauty in {subject}.", False),
                      ("Let {subject} set the tone for today.", False)],
    "informative": [("This {kind} shows {subject}.", True),
                    ("Here is {subject}, in a {frame} frame.", False),
                    ("A {frame} shot of {subject}.", True),
                    ("Sharing {subject} for reference.", False)],
}

PICTURE_DETAILS = {
    "professional": ["The palette stays with {colours}, which keeps the focus clear.",
                     "The {frame} frame keeps every detail readable."],
    "casual": ["Those {colours} tones, though.",
               "Mostly {colours}, and honestly that is the whole mood."],
    "funny": ["The {colour} is doing all the heavy lifting here.",
              "A colour scheme of {colours}, chosen with total confidence."],
    "inspirational": ["Notice the {colours}; small things add up to something beautiful.",
                      "Every shade of {colour} here was worth the wait."],
    "informative": ["The main colours are {colours}.",
                    "It is a {frame} image, {width} by {height} pixels."],
}

PICTURE_EXTRAS = {
    "professional": ["Good work is often in the details, and this one rewards a second look.",
                     "It is a simple frame, but it says a lot about the care behind it.",
                     "We will share more of the story behind it soon.",
                     "Moments like this are why we keep doing the work.",
                     "Thanks to everyone who made it possible."],
    "casual": ["No big caption needed; the {kind} does the work.",
               "Saving this one for the days that need a little colour.",
               "More like this coming soon.",
               "Honestly could look at this all day.",
               "Tag a friend who would love this one too."],
    "funny": ["I would explain it, but the {kind} already said everything.",
              "My camera roll is mostly shots like this, and I regret nothing.",
              "Scientists are still studying how good this looks.",
              "Posting it before I talk myself out of it.",
              "Ten out of ten, would look at it again."],
    "inspirational": ["Take a moment, breathe, and look again.",
                      "The best views are the ones you stop for.",
                      "Carry a little of this calm into the rest of your day.",
                      "Beautiful things are everywhere once you start looking.",
                      "Here is to slowing down and seeing more."],
    "informative": ["It works well as a {fit}.",
                    "Posting it here so it is easy to find later.",
                    "Open it full size for the detail.",
                    "Feel free to share it with credit.",
                    "More from the same series is on the way."],
}

FRAME_FITS = {"wide": "banner or a landscape post", "tall": "story or a portrait post",
              "square": "feed post"}

# --- Recordings and videos -----------------------------------------------------------------

SPOKEN_OPENERS = {
    "professional": ["Key takeaway: {quote}", "Worth hearing: {quote}", "In brief: {quote}"],
    "casual": ["Quick one: {quote}", "Okay, real talk: {quote}", "This part got me: {quote}"],
    "funny": ["Plot twist: {quote}", "Nobody asked, but: {quote}", "Hot take incoming: {quote}"],
    "inspirational": ["Remember this: {quote}", "Let this sink in: {quote}",
                      "Here’s your sign: {quote}"],
    "informative": ["The facts: {quote}", "Here’s what matters: {quote}",
                    "Worth knowing: {quote}"],
}

SPOKEN_MORE = "And later: {quote}"

SPOKEN_EXTRAS = {
    "professional": ["There is a lot in a few words here.", "Worth sharing with your team.",
                     "The full {media} has the context behind it."],
    "casual": ["Had to share this one.", "Tell me I’m not the only one who replayed it.",
               "The full {media} is worth your time."],
    "funny": ["Writing this down before I forget it, which will be in four minutes.",
              "Quoting this at dinner tonight, whether anyone asks or not.",
              "The full {media} only gets better from here."],
    "inspirational": ["Words like these are worth carrying with you today.",
                      "Play it again when you need the push.",
                      "The full {media} is a good place to start."],
    "informative": ["It comes straight from the {media}, word for word.",
                    "The full {media} covers the rest in detail.",
                    "Timestamps and a full transcript come with it."],
}

MEDIA_ASKS = {
    "audio": "Listen to the full recording for the rest.",
    "video": "Watch the full video for the rest.",
}

# File-name words that say nothing about the picture: cameras, editors, exports.
NAME_NOISE = frozenset({
    "img", "image", "images", "dsc", "dscn", "dscf", "pxl", "photo", "photos", "pic", "pics",
    "picture", "screenshot", "screen", "shot", "final", "copy", "edit", "edited", "export",
    "exported", "untitled", "new", "scan", "file", "upload", "whatsapp", "jpeg", "jpg", "png",
    "webp", "gif", "heic", "tiff", "raw", "large", "small", "medium", "thumb", "thumbnail",
    "resized", "original", "version", "draft", "at", "pm", "am", "vid", "video", "mov",
    "clip", "movie", "rec", "recording", "audio", "voice", "memo",
})
