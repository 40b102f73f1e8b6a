# The staging environment. Its state lives in the shared state bucket under its own key,
# locked by the DynamoDB table (infra/terraform/bootstrap); see docs/deploy.md.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
  backend "s3" {
    key            = "caption-generator/staging.tfstate"
    region         = "us-east-1"
    dynamodb_table = "caption-generator-tflock"
    encrypt        = true
    # bucket: caption-generator-tfstate-<account id>, given at init (-backend-config).
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      project     = "caption-generator"
      environment = "staging"
    }
  }
}

module "stack" {
  source                     = "../../modules/stack"
  environment                = "staging"
  region                     = var.region
  image_tag                  = var.image_tag
  domain_name                = var.domain_name
  domain_certificate_arn     = var.domain_certificate_arn
  cloudfront_certificate_arn = var.cloudfront_certificate_arn
  ses_identity               = var.ses_identity
  alarm_emails               = var.alarm_emails
  vpc_cidr                   = "10.42.0.0/16"
  az_count                   = 2
  nat_gateway_per_az         = false
  deletion_protection        = true
  db_instance_class          = "db.t4g.large"
  db_multi_az                = true
  redis_node_type            = "cache.t4g.medium"
  redis_replicas             = 1
  billing_enabled            = true
  web_min                    = 1
  web_max                    = 3
  cpu_worker_min             = 1
  cpu_worker_max             = 3
  gpu_max                    = 2
  gpu_on_demand_base         = 0
  gpu_on_demand_percent      = 0
  max_spend_per_hour_usd     = 10
  web_deployment_config      = "CodeDeployDefault.ECSAllAtOnce"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "image_tag" {
  description = "The image tag (git SHA) to run; set by the deploy workflow."
  type        = string
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

output "stack" {
  value = module.stack
}
