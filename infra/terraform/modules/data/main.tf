# --- Media bucket: private, encrypted, versioned, expiring per retention -------------
resource "aws_s3_bucket" "media" {
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events; jobs are queued by the application.
  #checkov:skip=CKV_AWS_144:Uploads are kept only for the plan's retention days and results live in PostgreSQL; cross-region copies would double what we hold of customers' media.
  bucket_prefix = "${var.name}-media-"
}

resource "aws_s3_bucket_logging" "media" {
  bucket        = aws_s3_bucket.media.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/media/"
}

# --- Access logs of the bucket and the load balancer -------------------------------------
resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log bucket; logging it into itself would loop.
  #checkov:skip=CKV2_AWS_62:Nothing consumes log object events.
  #checkov:skip=CKV_AWS_144:Access logs are regional and expire after 90 days.
  #checkov:skip=CKV_AWS_145:ELB access logs support only SSE-S3 (AES256), not KMS.
  bucket_prefix = "${var.name}-logs-"
}

# CloudFront's standard logs are delivered with an ACL grant, which needs ACLs enabled;
# objects still belong to this account.
resource "aws_s3_bucket_ownership_controls" "logs" {
  #checkov:skip=CKV2_AWS_65:CloudFront standard logging delivers through an ACL grant; this is the log bucket only, with public access blocked.
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = 90
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_elb_service_account" "main" {}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "LoadBalancerAccessLogs"
        Effect    = "Allow"
        Principal = { AWS = data.aws_elb_service_account.main.arn }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs.arn}/alb/*"
      },
      {
        Sid       = "S3ServerAccessLogs"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs.arn}/s3/*"
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_s3_bucket_public_access_block" "media" {
  bucket                  = aws_s3_bucket.media.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "media" {
  bucket = aws_s3_bucket.media.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "media" {
  bucket = aws_s3_bucket.media.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "media" {
  bucket = aws_s3_bucket.media.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "media" {
  bucket = aws_s3_bucket.media.id
  rule {
    id     = "expire-old-versions-and-abandoned-uploads"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  rule {
    # Direct uploads that never became a job (the application sweeps them too).
    id     = "expire-unclaimed-direct-uploads"
    status = "Enabled"
    filter {
      prefix = "uploads/"
    }
    expiration {
      days = 2
    }
  }
  rule {
    # Amazon Transcribe's working files: audio converted for it, and its result JSON. They
    # are read only during the job's attempt (TRANSCRIBE_JOB_TIMEOUT_SECONDS, 2 hours, fails
    # a job still waiting); the app deletes them with the job or its results, and this
    # catches what a crash left. S3 counts whole days, from the next midnight UTC.
    id     = "expire-transcribe-working-files"
    status = "Enabled"
    filter {
      prefix = var.transcribe_prefix
    }
    expiration {
      days = 2
    }
  }
}

resource "aws_s3_bucket_policy" "media_tls_only" {
  bucket = aws_s3_bucket.media.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.media.arn, "${aws_s3_bucket.media.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
}

# --- PostgreSQL -------------------------------------------------------------------------
resource "aws_db_subnet_group" "main" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_parameter_group" "main" {
  name   = "${var.name}-pg16"
  family = "postgres16"
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_lock_waits"
    value = "1"
  }
}

resource "aws_db_instance" "main" {
  #checkov:skip=CKV2_AWS_30:Logging every statement would write customers' transcripts into logs; slow statements (over 500 ms) and lock waits are logged instead.
  parameter_group_name                = aws_db_parameter_group.main.name
  identifier                          = var.name
  engine                              = "postgres"
  engine_version                      = "16"
  instance_class                      = var.db_instance_class
  allocated_storage                   = 100
  max_allocated_storage               = 1000
  db_name                             = "captions"
  username                            = "captions"
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = var.kms_key_arn
  db_subnet_group_name                = aws_db_subnet_group.main.name
  vpc_security_group_ids              = [var.data_security_group_id]
  multi_az                            = var.multi_az
  storage_encrypted                   = true
  kms_key_id                          = var.kms_key_arn
  backup_retention_period             = 14
  deletion_protection                 = true
  publicly_accessible                 = false
  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  copy_tags_to_snapshot               = true
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.rds_monitoring.arn
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "${var.name}-final"
}

# --- Redis (broker and cache) -----------------------------------------------------------
resource "aws_elasticache_subnet_group" "main" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_elasticache_replication_group" "main" {
  #checkov:skip=CKV2_AWS_50:Failover follows var.redis_replicas: on in staging and prod (1 and 2 replicas), off only in dev, which runs a single node to save cost.
  replication_group_id       = var.name
  description                = "Celery broker and Django cache"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = var.redis_replicas + 1
  automatic_failover_enabled = var.redis_replicas > 0
  multi_az_enabled           = var.redis_replicas > 0
  subnet_group_name          = aws_elasticache_subnet_group.main.name
  security_group_ids         = [var.data_security_group_id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  auth_token                 = random_password.redis.result
  snapshot_retention_limit   = 3
}

resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "aws_iam_role" "rds_monitoring" {
  name = "${var.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "monitoring.rds.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# --- Secrets the first apply can fill by itself ------------------------------------------
# DJANGO_SECRET_KEY and REDIS_URL (with Redis's auth token) are generated here, so a new
# environment serves on its first apply; both values are already in the state (as the
# random passwords), which is why the state bucket is KMS-encrypted and access-logged.
# The database password is not here: it stays in the RDS-managed secret, rotated by RDS.
resource "random_password" "django_secret_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "generated" {
  #checkov:skip=CKV2_AWS_57:Rotating these means a new deploy (new Django sessions, new Redis token); done by the runbook in docs/deploy.md, not a Lambda.
  name       = "${var.name}/generated"
  kms_key_id = var.kms_key_arn
}

resource "aws_secretsmanager_secret_version" "generated" {
  secret_id = aws_secretsmanager_secret.generated.id
  secret_string = jsonencode({
    DJANGO_SECRET_KEY = random_password.django_secret_key.result
    # rediss: TLS in transit; db 0 holds the broker and the cache (config/settings/base.py).
    REDIS_URL = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.main.primary_endpoint_address}:6379/0?ssl_cert_reqs=required"
  })
}

# Third-party secrets (Stripe): the real values are set out of band, never in state.
resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:Holds third-party keys (Stripe) that no rotation Lambda can rotate; rotated by the runbook in docs/deploy.md.
  name       = "${var.name}/app"
  kms_key_id = var.kms_key_arn
}

# Empty keys, so that ECS finds every key it injects; with billing on, production
# settings refuse to start until the real values are put here (docs/deploy.md).
resource "aws_secretsmanager_secret_version" "app_placeholder" {
  secret_id     = aws_secretsmanager_secret.app.id
  secret_string = jsonencode({ STRIPE_SECRET_KEY = "", STRIPE_WEBHOOK_SECRET = "" })
  lifecycle {
    ignore_changes = [secret_string]
  }
}
