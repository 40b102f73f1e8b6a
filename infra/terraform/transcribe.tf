# The managed speech-to-text engine (Amazon Transcribe), issue 17.
# Kept in its own file so it can move with the module restructuring at merge.
#
# The worker role may start and read Transcribe jobs named by the app ("cg-<job>-<n>"),
# in its own region only, and read and write the bucket prefix where Transcribe writes
# its results (TRANSCRIBE_OUTPUT_PREFIX). Transcribe reads the upload with the caller's
# own S3 and KMS permissions, which the task role already has for its bucket.
# The workers need STT_ROUTING_POLICY=var.stt_routing_policy and
# TRANSCRIBE_REGION=var.region in their environment (compute.tf's local.environment).

variable "stt_routing_policy" {
  description = "self_hosted, managed or overflow (see README: Speech to text)"
  type        = string
  default     = "overflow"
  validation {
    condition     = contains(["self_hosted", "managed", "overflow"], var.stt_routing_policy)
    error_message = "stt_routing_policy must be self_hosted, managed or overflow."
  }
}

variable "transcribe_output_prefix" {
  description = "Bucket prefix for Transcribe's results and converted audio"
  type        = string
  default     = "transcribe/"
}

resource "aws_iam_role_policy" "transcribe" {
  name = "caption-generator-transcribe"
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
        Resource = ["${aws_s3_bucket.media.arn}/${var.transcribe_output_prefix}*"]
      },
    ]
  })
}
