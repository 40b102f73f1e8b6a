variable "name" {
  description = "Prefix of every resource name (caption-generator-<environment>)."
  type        = string
}

variable "environment" {
  type = string
}

variable "region" {
  type = string
}

variable "image_tag" {
  description = "Tag of the web/worker and GPU worker images in ECR."
  type        = string
}

variable "domain_name" {
  description = "The public host name (served through CloudFront)."
  type        = string
}

variable "domain_certificate_arn" {
  description = "ACM certificate (in var.region) for the load balancer's HTTPS listener."
  type        = string
}

variable "deletion_protection" {
  type    = bool
  default = true
}

# --- From the network and data modules ------------------------------------------------
variable "vpc_id" {
  type = string
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "alb_security_group_id" {
  type = string
}

variable "app_security_group_id" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "logs_bucket" {
  type = string
}

variable "media_bucket" {
  type = string
}

variable "media_bucket_arn" {
  type = string
}

variable "db_address" {
  type = string
}

variable "db_port" {
  type = number
}

variable "db_name" {
  type = string
}

variable "db_secret_arn" {
  type = string
}

variable "generated_secret_arn" {
  type = string
}

variable "app_secret_arn" {
  type = string
}

# --- The application -------------------------------------------------------------------
variable "ses_identity" {
  description = "The verified SES sender address (or domain) mail is sent from."
  type        = string
}

variable "billing_enabled" {
  description = "Stripe billing on: production settings then require the Stripe secrets."
  type        = bool
  default     = true
}

variable "bedrock_model_id" {
  description = "A Claude inference profile id (us.anthropic..., global.anthropic...)."
  type        = string
  default     = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
  validation {
    condition     = can(regex("^(us|eu|apac|jp|au|global)\\.", var.bedrock_model_id))
    error_message = "Current Claude models are invoked through an inference profile id."
  }
}

variable "bedrock_profile_regions" {
  description = "Region part of the foundation-model ARNs the inference profile routes to."
  type        = string
  default     = "*"
}

variable "metrics_namespace" {
  type    = string
  default = "CaptionGenerator"
}

variable "log_retention_days" {
  type    = number
  default = 365
}

# --- Capacity ----------------------------------------------------------------------------
variable "web_cpu" {
  type    = number
  default = 1024
}

variable "web_memory" {
  type    = number
  default = 2048
}

variable "web_min" {
  type    = number
  default = 2
}

variable "web_max" {
  type    = number
  default = 10
}

variable "web_deployment_config" {
  description = "CodeDeploy's traffic shift for web: a canary in production, all at once elsewhere."
  type        = string
  default     = "CodeDeployDefault.ECSCanary10Percent5Minutes"
}

variable "web_requests_per_target" {
  description = "Requests per minute per web task that the request-count policy holds."
  type        = number
  default     = 1000
}

variable "cpu_worker_min" {
  type    = number
  default = 1
}

variable "cpu_worker_max" {
  type    = number
  default = 6
}

variable "gpu_instance_types" {
  description = "GPU instance types, most preferred first; Spot draws from all of them. `manage.py capacity_plan` (operations/capacity.py) gives the count from bench/results."
  type        = list(string)
  default     = ["g6e.xlarge", "g6.xlarge", "g5.xlarge"]
}

variable "gpu_task_memory" {
  description = "MiB for the GPU worker container; must fit the smallest type listed."
  type        = number
  default     = 14000
}

variable "gpu_max" {
  type    = number
  default = 8
}

variable "gpu_on_demand_base" {
  description = "On-Demand GPU instances kept before any Spot is used (0 allows scale to zero)."
  type        = number
  default     = 0
}

variable "gpu_on_demand_percent" {
  description = "Share of On-Demand above the base; the rest is Spot."
  type        = number
  default     = 25
}

variable "scale_to_zero_after_minutes" {
  type    = number
  default = 15
}

variable "whisper_model" {
  type    = string
  default = "large-v3"
}

variable "whisper_batch_size" {
  type    = number
  default = 16
}
