# The managed speech-to-text engine (Amazon Transcribe), issue 17.
#
# The worker role may start and read Transcribe jobs named by the app ("cg-<job>-<n>"),
# in its own region only, and read and write the bucket prefix where Transcribe writes
# its results (TRANSCRIBE_OUTPUT_PREFIX). Transcribe reads the upload with the caller's
# own S3 and KMS permissions, which the task role already has for its bucket.
# The workers get STT_ROUTING_POLICY, TRANSCRIBE_REGION and TRANSCRIBE_OUTPUT_PREFIX in
# ecs.tf's local.common_environment.

variable "stt_routing_policy" {
  description = "self_hosted, managed or overflow (see README: Speech to text)"
  type        = string
  default     = "overflow"
  validation {
    condition     = contains(["self_hosted", "managed", "overflow"], var.stt_routing_policy)
    error_message = "stt_routing_policy must be self_hosted, managed or overflow."
  }
}

# Declared by the stack, which also gives it to the bucket's lifecycle rule (modules/data).
variable "transcribe_output_prefix" {
  description = "Bucket prefix for Transcribe's results and converted audio"
  type        = string
}

resource "aws_iam_role_policy" "transcribe" {
  name = "${var.name}-transcribe"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "StartAndReadOwnTranscriptionJobs"
        Effect   = "Allow"
        Action   = ["transcribe:StartTranscriptionJob", "transcribe:GetTranscriptionJob"]
        Resource = ["arn:aws:transcribe:${var.region}:${data.aws_caller_identity.current.account_id}:transcription-job/cg-*"]
        Condition = {
          StringEquals = { "aws:RequestedRegion" = var.region }
        }
      },
      {
        Sid      = "ReadWriteTranscribePrefix"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = ["${var.media_bucket_arn}/${var.transcribe_output_prefix}*"]
      },
    ]
  })
}
