variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "alarm_emails" {
  type    = list(string)
  default = []
}

variable "metrics_namespace" {
  type    = string
  default = "CaptionGenerator"
}

variable "load_balancer_arn_suffix" {
  type = string
}

variable "target_group_arn_suffix" {
  type = string
}

variable "cluster_name" {
  type = string
}

variable "gpu_service_name" {
  type = string
}

variable "max_5xx_percent" {
  type    = number
  default = 1
}

variable "max_p95_seconds" {
  type    = number
  default = 1.5
}

variable "max_queue_waiting" {
  type    = number
  default = 50
}

variable "max_queued_job_age_seconds" {
  type    = number
  default = 1800
}

variable "max_spend_per_hour_usd" {
  type    = number
  default = 50
}
