output "media_bucket" {
  value = aws_s3_bucket.media.bucket
}

output "media_bucket_arn" {
  value = aws_s3_bucket.media.arn
}

output "logs_bucket" {
  value = aws_s3_bucket.logs.id
}

output "logs_bucket_domain_name" {
  value = aws_s3_bucket.logs.bucket_domain_name
}

output "db_address" {
  value = aws_db_instance.main.address
}

output "db_port" {
  value = aws_db_instance.main.port
}

output "db_name" {
  value = aws_db_instance.main.db_name
}

output "db_instance_id" {
  value = aws_db_instance.main.identifier
}

output "db_secret_arn" {
  description = "The RDS-managed secret (keys username and password), rotated by RDS."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "redis_primary_endpoint" {
  value = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "generated_secret_arn" {
  value = aws_secretsmanager_secret.generated.arn
}

output "app_secret_arn" {
  value = aws_secretsmanager_secret.app.arn
}
