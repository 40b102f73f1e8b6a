# CloudFront in front of the load balancer: static files (WhiteNoise, hashed names) are
# cached at the edge for a year; everything else passes through uncached with the
# viewer's Host, cookies and headers, so Django sees the public name.
data "aws_cloudfront_cache_policy" "caching_optimized" {
  name = "Managed-CachingOptimized"
}

data "aws_cloudfront_cache_policy" "caching_disabled" {
  name = "Managed-CachingDisabled"
}

data "aws_cloudfront_origin_request_policy" "all_viewer" {
  name = "Managed-AllViewer"
}

resource "aws_cloudfront_distribution" "web" {
  #checkov:skip=CKV_AWS_68:Every request reaches the load balancer, whose regional WAF (modules/compute/alb.tf) inspects it; a second, global WAF would double the cost and the rules to keep in step.
  #checkov:skip=CKV2_AWS_47:Same: the regional WAF on the load balancer carries AWSManagedRulesKnownBadInputsRuleSet (Log4j).
  #checkov:skip=CKV2_AWS_32:Django sets the security headers (HSTS, CSP, nosniff, frame options) on every response; a CloudFront policy would be a second copy to keep in step.
  #checkov:skip=CKV_AWS_310:One origin: the load balancer already spans every zone; there is no second origin to fail over to.
  #checkov:skip=CKV_AWS_374:Customers are everywhere; no country is refused at the edge.
  #checkov:skip=CKV_AWS_305:The origin is Django, which answers / itself (the landing page).
  enabled         = true
  is_ipv6_enabled = true
  comment         = var.name
  aliases         = [var.domain_name]
  price_class     = var.price_class

  origin {
    origin_id   = "alb"
    domain_name = var.load_balancer_dns
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
      # Uploads stream through; the application bounds their size and time.
      origin_read_timeout = 60
    }
  }

  default_cache_behavior {
    target_origin_id         = "alb"
    viewer_protocol_policy   = "redirect-to-https"
    allowed_methods          = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods           = ["GET", "HEAD"]
    cache_policy_id          = data.aws_cloudfront_cache_policy.caching_disabled.id
    origin_request_policy_id = data.aws_cloudfront_origin_request_policy.all_viewer.id
    compress                 = true
  }

  ordered_cache_behavior {
    path_pattern           = "/static/*"
    target_origin_id       = "alb"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = data.aws_cloudfront_cache_policy.caching_optimized.id
    compress               = true
  }

  logging_config {
    bucket = var.logs_bucket_domain_name
    prefix = "cloudfront/"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.certificate_arn_us_east_1
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }
}

variable "name" {
  type = string
}

variable "domain_name" {
  type = string
}

variable "load_balancer_dns" {
  type = string
}

variable "logs_bucket_domain_name" {
  type = string
}

variable "certificate_arn_us_east_1" {
  description = "ACM certificate for var.domain_name in us-east-1 (CloudFront's region)."
  type        = string
}

variable "price_class" {
  type    = string
  default = "PriceClass_100"
}

output "distribution_domain_name" {
  description = "Point the public DNS name (CNAME/alias) here."
  value       = aws_cloudfront_distribution.web.domain_name
}

output "distribution_id" {
  value = aws_cloudfront_distribution.web.id
}
