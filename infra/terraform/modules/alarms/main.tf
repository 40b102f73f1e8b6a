# Alarms for what a customer would notice, all sent to one SNS topic.
resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  actions = [aws_sns_topic.alarms.arn]
  alb     = { LoadBalancer = var.load_balancer_arn_suffix }
  target  = { LoadBalancer = var.load_balancer_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  app     = { Environment = var.environment }
}

resource "aws_cloudwatch_metric_alarm" "http_5xx_rate" {
  alarm_name          = "${var.name}-5xx-rate"
  alarm_description   = "More than ${var.max_5xx_percent}% of requests answered 5xx (targets and the load balancer)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_5xx_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  metric_query {
    id          = "rate"
    expression  = "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / MAX([FILL(requests, 0), 1])"
    label       = "5xx percent"
    return_data = true
  }
  metric_query {
    id = "target5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alb
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "elb5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = local.alb
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alb
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "p95_latency" {
  alarm_name          = "${var.name}-p95-latency"
  alarm_description   = "p95 response time above ${var.max_p95_seconds}s."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.alb
  extended_statistic  = "p95"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_p95_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_targets" {
  alarm_name          = "${var.name}-unhealthy-targets"
  alarm_description   = "A web target fails /readyz."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.target
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  for_each            = toset(["gpu", "default"])
  alarm_name          = "${var.name}-${each.key}-queue-depth"
  alarm_description   = "Over ${var.max_queue_waiting} jobs wait on the ${each.key} queue for 15 minutes: scaling is not keeping up (capacity, Spot, quota)."
  namespace           = var.metrics_namespace
  metric_name         = "QueueWaiting"
  dimensions          = merge(local.app, { Queue = each.key })
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_queue_waiting
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  alarm_name          = "${var.name}-oldest-queued-job"
  alarm_description   = "A job has been queued for over ${var.max_queued_job_age_seconds}s (one waiting for its owner's hourly cost cap counts too)."
  namespace           = var.metrics_namespace
  metric_name         = "OldestQueuedJobAgeSeconds"
  dimensions          = local.app
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_queued_job_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "queue_metrics_silent" {
  alarm_name          = "${var.name}-queue-metrics-silent"
  alarm_description   = "The queue-depth publisher (beat service) sent nothing for 5 minutes: worker scaling is blind."
  namespace           = var.metrics_namespace
  metric_name         = "QueueBacklog"
  dimensions          = merge(local.app, { Queue = "default" })
  statistic           = "SampleCount"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

# GPU workers that were asked for but are not running and healthy (the model did not
# load, no Spot or On-Demand capacity, the instance never joined the cluster).
resource "aws_cloudwatch_metric_alarm" "gpu_workers_not_ready" {
  alarm_name          = "${var.name}-gpu-workers-not-ready"
  alarm_description   = "GPU worker tasks desired but not running for 20 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 4
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "GPU tasks not running"
    return_data = true
  }
  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = var.gpu_service_name }
      period      = 300
      stat        = "Minimum"
    }
  }
  metric_query {
    id = "running"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = var.gpu_service_name }
      period      = 300
      stat        = "Minimum"
    }
  }
}

# Paid-call spend recorded by the application's cost ledger in the current clock hour
# (all users), published with the queue metrics.
resource "aws_cloudwatch_metric_alarm" "spend_per_hour" {
  alarm_name          = "${var.name}-spend-per-hour"
  alarm_description   = "Spend this hour passed ${var.max_spend_per_hour_usd} USD."
  namespace           = var.metrics_namespace
  metric_name         = "SpendMicrosThisHour"
  dimensions          = local.app
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_spend_per_hour_usd * 1000000
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
}
