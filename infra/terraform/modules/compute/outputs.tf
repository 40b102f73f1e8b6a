output "cluster_name" {
  value = aws_ecs_cluster.main.name
}

output "load_balancer_dns" {
  value = aws_lb.web.dns_name
}

output "load_balancer_arn_suffix" {
  value = aws_lb.web.arn_suffix
}

output "target_group_arn_suffix" {
  value = aws_lb_target_group.web.arn_suffix
}

output "ecr_repositories" {
  value = { for k, r in aws_ecr_repository.app : k => r.repository_url }
}

output "services" {
  value = {
    web        = aws_ecs_service.web.name
    cpu_worker = aws_ecs_service.cpu_worker.name
    gpu_worker = aws_ecs_service.gpu_worker.name
    beat       = aws_ecs_service.beat.name
  }
}

output "migrate_task_definition" {
  description = "Run once per deploy before the services roll (see .github/workflows/deploy.yml)."
  value       = aws_ecs_task_definition.migrate.family
}

output "task_network" {
  description = "Subnets and security group for one-off tasks (aws ecs run-task)."
  value = {
    subnets         = var.private_subnet_ids
    security_groups = [var.app_security_group_id]
  }
}

output "web_task_definition_arn" {
  description = "The revision Terraform registered; the deploy hands it to CodeDeploy."
  value       = aws_ecs_task_definition.web.arn
}

output "web_codedeploy" {
  value = {
    application      = aws_codedeploy_app.web.name
    deployment_group = aws_codedeploy_deployment_group.web.deployment_group_name
  }
}

# Grafana's data source and `awscurl` queries: the workers' metrics (metrics.tf).
output "prometheus_endpoint" {
  value = aws_prometheus_workspace.main.prometheus_endpoint
}
