# One whole environment: every environment root (environments/<env>) calls this with its
# own sizes, so dev, staging and prod differ only in the values they pass.
locals {
  name = "caption-generator-${var.environment}"
}

module "kms" {
  source = "../kms"
  name   = local.name
  region = var.region
}

module "network" {
  source             = "../network"
  name               = local.name
  region             = var.region
  vpc_cidr           = var.vpc_cidr
  az_count           = var.az_count
  nat_gateway_per_az = var.nat_gateway_per_az
  kms_key_arn        = module.kms.key_arn
}

module "data" {
  source                 = "../data"
  name                   = local.name
  kms_key_arn            = module.kms.key_arn
  private_subnet_ids     = module.network.private_subnet_ids
  data_security_group_id = module.network.data_security_group_id
  db_instance_class      = var.db_instance_class
  multi_az               = var.db_multi_az
  redis_node_type        = var.redis_node_type
  redis_replicas         = var.redis_replicas
  transcribe_prefix      = var.transcribe_output_prefix
}

module "compute" {
  source                 = "../compute"
  name                   = local.name
  environment            = var.environment
  region                 = var.region
  image_tag              = var.image_tag
  domain_name            = var.domain_name
  domain_certificate_arn = var.domain_certificate_arn
  deletion_protection    = var.deletion_protection
  vpc_id                 = module.network.vpc_id
  public_subnet_ids      = module.network.public_subnet_ids
  private_subnet_ids     = module.network.private_subnet_ids
  alb_security_group_id  = module.network.alb_security_group_id
  app_security_group_id  = module.network.app_security_group_id
  kms_key_arn            = module.kms.key_arn
  logs_bucket            = module.data.logs_bucket
  media_bucket           = module.data.media_bucket
  media_bucket_arn       = module.data.media_bucket_arn
  db_address             = module.data.db_address
  db_port                = module.data.db_port
  db_name                = module.data.db_name
  db_secret_arn          = module.data.db_secret_arn
  generated_secret_arn   = module.data.generated_secret_arn
  app_secret_arn         = module.data.app_secret_arn
  ses_identity           = var.ses_identity
  billing_enabled        = var.billing_enabled
  bedrock_model_id       = var.bedrock_model_id
  web_min                = var.web_min
  web_max                = var.web_max
  cpu_worker_min         = var.cpu_worker_min
  cpu_worker_max         = var.cpu_worker_max
  gpu_max                = var.gpu_max
  gpu_on_demand_base     = var.gpu_on_demand_base
  gpu_on_demand_percent  = var.gpu_on_demand_percent
  web_deployment_config  = var.web_deployment_config
  # The same prefix the bucket expires (module.data above).
  transcribe_output_prefix = var.transcribe_output_prefix
}

module "edge" {
  source                    = "../edge"
  name                      = local.name
  domain_name               = var.domain_name
  load_balancer_dns         = module.compute.load_balancer_dns
  logs_bucket_domain_name   = module.data.logs_bucket_domain_name
  certificate_arn_us_east_1 = var.cloudfront_certificate_arn
}

module "alarms" {
  source                   = "../alarms"
  name                     = local.name
  environment              = var.environment
  kms_key_arn              = module.kms.key_arn
  alarm_emails             = var.alarm_emails
  load_balancer_arn_suffix = module.compute.load_balancer_arn_suffix
  target_group_arn_suffix  = module.compute.target_group_arn_suffix
  cluster_name             = module.compute.cluster_name
  gpu_service_name         = module.compute.services.gpu_worker
  max_spend_per_hour_usd   = var.max_spend_per_hour_usd
}
