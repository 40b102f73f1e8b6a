variable "environment" {
  description = "dev, staging or prod: part of every resource name."
  type        = string
}

variable "region" {
  type = string
}

variable "image_tag" {
  type = string
}

variable "domain_name" {
  type = string
}

variable "domain_certificate_arn" {
  type = string
}

variable "cloudfront_certificate_arn" {
  type = string
}

variable "ses_identity" {
  type = string
}

variable "alarm_emails" {
  type    = list(string)
  default = []
}

variable "vpc_cidr" {
  type = string
}

variable "az_count" {
  type = number
}

variable "nat_gateway_per_az" {
  type = bool
}

variable "deletion_protection" {
  type = bool
}

variable "db_instance_class" {
  type = string
}

variable "db_multi_az" {
  type = bool
}

variable "redis_node_type" {
  type = string
}

variable "redis_replicas" {
  type = number
}

variable "billing_enabled" {
  type = bool
}

variable "bedrock_model_id" {
  type    = string
  default = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
}

variable "web_min" {
  type = number
}

variable "web_max" {
  type = number
}

variable "cpu_worker_min" {
  type = number
}

variable "cpu_worker_max" {
  type = number
}

variable "gpu_max" {
  type = number
}

variable "gpu_on_demand_base" {
  type = number
}

variable "gpu_on_demand_percent" {
  type = number
}

variable "max_spend_per_hour_usd" {
  type = number
}

variable "web_deployment_config" {
  type    = string
  default = "CodeDeployDefault.ECSCanary10Percent5Minutes"
}

# Amazon Transcribe's working files in the media bucket: the workers may write only there
# (modules/compute/transcribe.tf) and the bucket expires them (modules/data). The
# application's own default (TRANSCRIBE_OUTPUT_PREFIX) is the same.
variable "transcribe_output_prefix" {
  description = "Bucket prefix for Transcribe's results and converted audio"
  type        = string
  default     = "transcribe/"
}
