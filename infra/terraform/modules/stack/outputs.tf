# Every endpoint the application, the deploy and an operator need.
output "public_url" {
  value = "https://${var.domain_name}"
}

output "cloudfront_domain_name" {
  value = module.edge.distribution_domain_name
}

output "load_balancer_dns" {
  value = module.compute.load_balancer_dns
}

output "media_bucket" {
  value = module.data.media_bucket
}

output "db_address" {
  value = module.data.db_address
}

output "db_secret_arn" {
  value = module.data.db_secret_arn
}

output "redis_primary_endpoint" {
  value = module.data.redis_primary_endpoint
}

output "app_secret_arn" {
  description = "Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET here (docs/deploy.md)."
  value       = module.data.app_secret_arn
}

output "ecr_repositories" {
  value = module.compute.ecr_repositories
}

output "cluster_name" {
  value = module.compute.cluster_name
}

output "services" {
  value = module.compute.services
}

output "migrate_task_definition" {
  value = module.compute.migrate_task_definition
}

output "task_network" {
  value = module.compute.task_network
}

output "vpc_endpoints" {
  value = module.network.vpc_endpoints
}

output "alarm_topic_arn" {
  value = module.alarms.topic_arn
}

output "web_task_definition_arn" {
  value = module.compute.web_task_definition_arn
}

output "web_codedeploy" {
  value = module.compute.web_codedeploy
}

output "prometheus_endpoint" {
  value = module.compute.prometheus_endpoint
}
