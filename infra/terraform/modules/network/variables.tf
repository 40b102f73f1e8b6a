variable "name" {
  type = string
}

variable "region" {
  type = string
}

variable "vpc_cidr" {
  type = string
}

variable "az_count" {
  description = "Availability zones used: 3 in production, 2 elsewhere."
  type        = number
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "The database and the load balancer need at least two zones."
  }
}

variable "nat_gateway_per_az" {
  type    = bool
  default = false
}

variable "kms_key_arn" {
  type = string
}

variable "log_retention_days" {
  type    = number
  default = 365
}
