# --- Images and logs --------------------------------------------------------------------
resource "aws_ecr_repository" "app" {
  for_each             = toset(["app", "gpu-worker"])
  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/${var.name}/app"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_ecs_cluster" "main" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# --- What every container is told ----------------------------------------------------------
# These lists are the contract with config/settings/production.py: the names here are
# exactly what tests/infra/test_app_agreement.py boots the production settings with.
locals {
  app_image = "${aws_ecr_repository.app["app"].repository_url}:${var.image_tag}"
  gpu_image = "${aws_ecr_repository.app["gpu-worker"].repository_url}:${var.image_tag}"

  common_environment = [
    { name = "DJANGO_SETTINGS_MODULE", value = "config.settings.production" },
    # The public name (through CloudFront) and the load balancer's own name.
    { name = "DJANGO_ALLOWED_HOSTS", value = "${var.domain_name},${aws_lb.web.dns_name}" },
    { name = "DJANGO_CSRF_TRUSTED_ORIGINS", value = "https://${var.domain_name}" },
    { name = "SITE_URL", value = "https://${var.domain_name}" },
    { name = "DATABASE_HOST", value = var.db_address },
    { name = "DATABASE_PORT", value = tostring(var.db_port) },
    { name = "DATABASE_NAME", value = var.db_name },
    # Read again by config.postgres when PostgreSQL refuses the password (RDS rotated it).
    { name = "DATABASE_SECRET_ARN", value = var.db_secret_arn },
    { name = "AWS_STORAGE_BUCKET_NAME", value = var.media_bucket },
    { name = "AWS_S3_REGION_NAME", value = var.region },
    { name = "AWS_SES_REGION_NAME", value = var.region },
    { name = "DEFAULT_FROM_EMAIL", value = "Caption Generator <${var.ses_identity}>" },
    { name = "CAPTION_WRITER", value = "bedrock" },
    { name = "BEDROCK_REGION", value = var.region },
    { name = "BEDROCK_MODEL_ID", value = var.bedrock_model_id },
    { name = "BILLING_ENABLED", value = tostring(var.billing_enabled) },
    # Speech to text on Amazon Transcribe (issue 17): per-job routing, see transcribe.tf.
    { name = "STT_ROUTING_POLICY", value = var.stt_routing_policy },
    { name = "TRANSCRIBE_REGION", value = var.region },
    { name = "TRANSCRIBE_OUTPUT_PREFIX", value = var.transcribe_output_prefix },
  ]

  common_secrets = [
    { name = "DJANGO_SECRET_KEY", valueFrom = "${var.generated_secret_arn}:DJANGO_SECRET_KEY::" },
    { name = "REDIS_URL", valueFrom = "${var.generated_secret_arn}:REDIS_URL::" },
    # The RDS-managed secret's keys; RDS rotates the password (docs/deploy.md).
    { name = "DATABASE_USER", valueFrom = "${var.db_secret_arn}:username::" },
    { name = "DATABASE_PASSWORD", valueFrom = "${var.db_secret_arn}:password::" },
    { name = "STRIPE_SECRET_KEY", valueFrom = "${var.app_secret_arn}:STRIPE_SECRET_KEY::" },
    { name = "STRIPE_WEBHOOK_SECRET", valueFrom = "${var.app_secret_arn}:STRIPE_WEBHOOK_SECRET::" },
  ]

  gpu_environment = [
    { name = "WHISPER_DEVICE", value = "cuda" },
    { name = "WHISPER_MODEL", value = var.whisper_model },
    # Our batched engine on openai-whisper weights: the checkpoint baked into the image.
    { name = "WHISPER_ENGINE", value = "openai-whisper" },
    # The model is baked into the GPU image (infra/docker/Dockerfile.gpu); nothing is
    # downloaded at task start, and the task is healthy only once it is loaded.
    { name = "WHISPER_DOWNLOAD_ROOT", value = "/opt/whisper" },
    { name = "WHISPER_ALLOW_DOWNLOAD", value = "false" },
    { name = "WHISPER_PRELOAD", value = "true" },
    { name = "WHISPER_READY_FILE", value = "/tmp/whisper-ready" },
    { name = "WHISPER_BATCH_SIZE", value = tostring(var.whisper_batch_size) },
  ]

  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.app.name
      awslogs-region        = var.region
      awslogs-stream-prefix = "app"
    }
  }

  containers = {
    web = {
      name                   = "web"
      image                  = local.app_image
      essential              = true
      readonlyRootFilesystem = true
      portMappings           = [{ containerPort = 8000, protocol = "tcp" }]
      environment            = local.common_environment
      secrets                = local.common_secrets
      logConfiguration       = local.log_configuration
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp" }]
      healthCheck = {
        command     = ["CMD", "python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }
    }
    worker = {
      name             = "worker"
      image            = local.app_image
      essential        = true
      command          = ["celery", "-A", "config", "worker", "--queues=default", "--concurrency=4", "--loglevel=INFO"]
      environment      = concat(local.common_environment, local.worker_metrics_environment)
      secrets          = local.common_secrets
      logConfiguration = local.log_configuration
    }
    gpu_worker = {
      name                 = "gpu-worker"
      image                = local.gpu_image
      essential            = true
      memory               = var.gpu_task_memory
      resourceRequirements = [{ type = "GPU", value = "1" }]
      command              = ["celery", "-A", "config", "worker", "--queues=gpu", "--pool=solo", "--prefetch-multiplier=1", "--loglevel=INFO"]
      environment          = concat(local.common_environment, local.gpu_environment, local.worker_metrics_environment)
      secrets              = local.common_secrets
      logConfiguration     = local.log_configuration
      # WHISPER_PRELOAD writes the ready file once the model is on the GPU.
      healthCheck = {
        command     = ["CMD-SHELL", "test -f /tmp/whisper-ready"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 300
      }
    }
    # Scrapes the worker beside it and writes to the Prometheus workspace (metrics.tf).
    metrics_collector = {
      name              = "metrics-collector"
      image             = var.metrics_collector_image
      essential         = false
      memoryReservation = 256
      environment       = [{ name = "AOT_CONFIG_CONTENT", value = local.metrics_collector_config }]
      secrets           = []
      logConfiguration  = local.log_configuration
    }
    beat = {
      name             = "beat"
      image            = local.app_image
      essential        = true
      command          = ["celery", "-A", "config", "beat", "--loglevel=INFO", "--schedule=/tmp/celerybeat-schedule"]
      environment      = local.common_environment
      secrets          = local.common_secrets
      logConfiguration = local.log_configuration
    }
    queue_metrics = {
      name             = "queue-metrics"
      image            = local.app_image
      essential        = true
      command          = ["python", "manage.py", "publish_queue_metrics", "--every=60", "--namespace=${var.metrics_namespace}", "--environment=${var.environment}"]
      environment      = local.common_environment
      secrets          = local.common_secrets
      logConfiguration = local.log_configuration
    }
    migrate = {
      name             = "migrate"
      image            = local.app_image
      essential        = true
      command          = ["python", "manage.py", "migrate", "--noinput"]
      environment      = local.common_environment
      secrets          = local.common_secrets
      logConfiguration = local.log_configuration
    }
  }
}

# --- Task definitions ---------------------------------------------------------------------
resource "aws_ecs_task_definition" "web" {
  family                   = "${var.name}-web"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.web_cpu
  memory                   = var.web_memory
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.containers.web])
  volume {
    name = "tmp"
  }
}

resource "aws_ecs_task_definition" "cpu_worker" {
  family                   = "${var.name}-cpu-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 2048
  memory                   = 8192
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.containers.worker, local.containers.metrics_collector])
}

resource "aws_ecs_task_definition" "gpu_worker" {
  family                   = "${var.name}-gpu-worker"
  requires_compatibilities = ["EC2"]
  network_mode             = "awsvpc"
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.containers.gpu_worker, local.containers.metrics_collector])
}

# One beat (the periodic sweeps) and the queue-depth publisher the scaling reads.
resource "aws_ecs_task_definition" "beat" {
  family                   = "${var.name}-beat"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.ops.arn
  container_definitions    = jsonencode([local.containers.beat, local.containers.queue_metrics])
}

# Run once by the deploy (aws ecs run-task) before any service rolls to the new image.
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.containers.migrate])
}

# --- Services ----------------------------------------------------------------------------
resource "aws_ecs_service" "web" {
  name            = "web"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.web.arn
  desired_count   = var.web_min
  launch_type     = "FARGATE"
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "web"
    container_port   = 8000
  }
  health_check_grace_period_seconds = 60
  # Blue/green with a canary through CodeDeploy (deploy.tf), which owns the task set.
  deployment_controller {
    type = "CODE_DEPLOY"
  }
  lifecycle {
    # Autoscaling owns the count; CodeDeploy moves the service between the two target
    # groups and onto new task definitions.
    ignore_changes = [desired_count, task_definition, load_balancer]
  }
}

resource "aws_ecs_service" "cpu_worker" {
  name            = "cpu-worker"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.cpu_worker.arn
  desired_count   = var.cpu_worker_min
  launch_type     = "FARGATE"
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  lifecycle {
    ignore_changes = [desired_count]
  }
}

resource "aws_ecs_service" "beat" {
  name            = "beat"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.beat.arn
  desired_count   = 1
  launch_type     = "FARGATE"
  # Never two beats (each would enqueue every sweep): stop the old one before the new starts.
  deployment_maximum_percent         = 100
  deployment_minimum_healthy_percent = 0
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

resource "aws_ecs_service" "gpu_worker" {
  name            = "gpu-worker"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.gpu_worker.arn
  # Scaled on queue depth (scaling.tf), from zero when the queue is empty.
  desired_count = 0
  network_configuration {
    subnets         = var.private_subnet_ids
    security_groups = [var.app_security_group_id]
  }
  capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.gpu.name
    weight            = 1
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  lifecycle {
    ignore_changes = [desired_count]
  }
}
