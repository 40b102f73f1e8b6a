variable "region" {
  type    = string
  default = "us-east-1"
}

variable "environment" {
  type    = string
  default = "production"
}

variable "vpc_cidr" {
  type    = string
  default = "10.40.0.0/16"
}

variable "image_tag" {
  description = "Tag of the web/worker and GPU worker images in ECR."
  type        = string
}

variable "domain_certificate_arn" {
  description = "ACM certificate for the public HTTPS listener."
  type        = string
}

variable "web_count" {
  type    = number
  default = 2
}

variable "cpu_worker_count" {
  type    = number
  default = 2
}

variable "gpu_instance_type" {
  description = "GPU worker instance type; `manage.py capacity_plan` (operations/capacity.py) gives the count from bench/results."
  type        = string
  default     = "g6e.xlarge"
}

variable "gpu_min" {
  type    = number
  default = 1
}

variable "gpu_max" {
  type    = number
  default = 8
}

variable "db_instance_class" {
  type    = string
  default = "db.r6g.large"
}

variable "bedrock_model_id" {
  type    = string
  default = "anthropic.claude-sonnet-4-5-20250929-v1:0"
}
