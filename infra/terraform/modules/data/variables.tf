variable "name" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "data_security_group_id" {
  type = string
}

variable "db_instance_class" {
  type = string
}

variable "multi_az" {
  description = "A standby in a second zone: production and staging."
  type        = bool
  default     = true
}

variable "redis_node_type" {
  type = string
}

variable "redis_replicas" {
  description = "Read replicas behind the primary; 0 means no automatic failover (dev)."
  type        = number
  default     = 1
}

variable "transcribe_prefix" {
  description = "Prefix of Amazon Transcribe's working files (converted audio, results)"
  type        = string
}
