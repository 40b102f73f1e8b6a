output "load_balancer_dns" {
  value = aws_lb.web.dns_name
}

output "media_bucket" {
  value = aws_s3_bucket.media.bucket
}

output "ecr_repositories" {
  value = { for k, r in aws_ecr_repository.app : k => r.repository_url }
}
