# Worker metrics in production (issue 15): Amazon Managed Service for Prometheus, fed by
# an AWS Distro for OpenTelemetry (ADOT) collector beside each worker.
#
# Why a sidecar and not a Prometheus server or the CloudWatch agent:
# - Fargate and the GPU tasks get a new private IP each start, and the GPU service scales
#   to zero; a central Prometheus would need service discovery (Cloud Map or an ECS SD
#   plugin) and a security-group path to every task. The sidecar shares the task's network
#   namespace (awsvpc) and scrapes localhost, so nothing new is opened.
# - The metrics stay Prometheus metrics: infra/observability's PromQL alerts and Grafana
#   dashboard read them from the workspace as they are, where the CloudWatch agent would
#   turn them into CloudWatch metrics with other names and a price per series.
# - The sidecar is not essential: a collector that dies leaves the worker running.
#
# Each worker serves its merged metrics (PROMETHEUS_MULTIPROC_DIR: every pool process's
# samples) on WORKER_METRICS_PORT (config/metrics.py, worker_exporter_start); the
# collector adds the ECS task's identity, so tasks that all answer on localhost stay apart.

variable "worker_metrics_port" {
  description = "Port each worker container serves its Prometheus metrics on (task-local)"
  type        = number
  default     = 9101
}

variable "metrics_collector_image" {
  description = "ADOT collector image; a pinned release, never latest"
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"
}

resource "aws_cloudwatch_log_group" "prometheus" {
  name              = "/${var.name}/prometheus"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_prometheus_workspace" "main" {
  alias       = var.name
  kms_key_arn = var.kms_key_arn
  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.prometheus.arn}:*"
  }
}

locals {
  worker_metrics_environment = [
    # The multiprocess folder is created by config/metrics.py before the first metric.
    { name = "PROMETHEUS_MULTIPROC_DIR", value = "/tmp/prometheus" },
    { name = "WORKER_METRICS_PORT", value = tostring(var.worker_metrics_port) },
  ]

  metrics_collector_config = yamlencode({
    extensions = {
      health_check = {}
      sigv4auth    = { region = var.region, service = "aps" }
    }
    receivers = {
      prometheus = {
        config = {
          scrape_configs = [{
            job_name        = "caption-worker"
            scrape_interval = "30s"
            static_configs  = [{ targets = ["localhost:${var.worker_metrics_port}"] }]
          }]
        }
      }
    }
    processors = {
      # aws.ecs.task.arn, family and revision on every series.
      resourcedetection = { detectors = ["env", "ecs"], timeout = "5s" }
      batch             = {}
    }
    exporters = {
      prometheusremotewrite = {
        endpoint                         = "${aws_prometheus_workspace.main.prometheus_endpoint}api/v1/remote_write"
        auth                             = { authenticator = "sigv4auth" }
        resource_to_telemetry_conversion = { enabled = true }
      }
    }
    service = {
      extensions = ["health_check", "sigv4auth"]
      pipelines = {
        metrics = {
          receivers  = ["prometheus"]
          processors = ["resourcedetection", "batch"]
          exporters  = ["prometheusremotewrite"]
        }
      }
    }
  })
}

# Only remote write to this one workspace; the collector runs with the task role.
resource "aws_iam_role_policy" "metrics_remote_write" {
  name = "${var.name}-metrics-remote-write"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["aps:RemoteWrite"]
      Resource = [aws_prometheus_workspace.main.arn]
    }]
  })
}
