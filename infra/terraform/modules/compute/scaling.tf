# --- Web: CPU and requests per target ------------------------------------------------------
resource "aws_appautoscaling_target" "web" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.web.name}"
  min_capacity       = var.web_min
  max_capacity       = var.web_max
}

resource "aws_appautoscaling_policy" "web_cpu" {
  name               = "${var.name}-web-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension
  resource_id        = aws_appautoscaling_target.web.resource_id
  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "web_requests" {
  name               = "${var.name}-web-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension
  resource_id        = aws_appautoscaling_target.web.resource_id
  target_tracking_scaling_policy_configuration {
    target_value       = var.web_requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.web.arn_suffix}/${aws_lb_target_group.web.arn_suffix}"
    }
  }
}

# --- Workers: step scaling on queue depth ---------------------------------------------------
# Published every minute per queue by `manage.py publish_queue_metrics` (the beat task):
# QueueWaiting counts messages no worker has taken (each worker takes one at a time),
# QueueBacklog adds those running. Target tracking cannot start from zero tasks (backlog
# per task is undefined there), so workers scale in steps: out while anything waits
# (a worker per waiting job, in steps, until nothing waits), and to the minimum (zero
# GPUs) only once nothing has waited or run for var.scale_to_zero_after_minutes.
locals {
  worker_queues = {
    gpu = { service = aws_ecs_service.gpu_worker.name, min = 0, max = var.gpu_max }
    # CPU workers keep one task: they also run the sweeps that beat enqueues.
    default = { service = aws_ecs_service.cpu_worker.name, min = var.cpu_worker_min, max = var.cpu_worker_max }
  }
}

resource "aws_appautoscaling_target" "worker" {
  for_each           = local.worker_queues
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${each.value.service}"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}

resource "aws_appautoscaling_policy" "worker_out" {
  for_each           = local.worker_queues
  name               = "${var.name}-${each.key}-queue-out"
  policy_type        = "StepScaling"
  service_namespace  = "ecs"
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  step_scaling_policy_configuration {
    adjustment_type = "ChangeInCapacity"
    # A GPU instance takes minutes to boot and load the model: wait for it before adding more.
    cooldown                = 240
    metric_aggregation_type = "Maximum"
    # Bounds are relative to the alarm's threshold (a backlog of 1).
    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = 4
      scaling_adjustment          = 1
    }
    step_adjustment {
      metric_interval_lower_bound = 4
      metric_interval_upper_bound = 19
      scaling_adjustment          = 2
    }
    step_adjustment {
      metric_interval_lower_bound = 19
      scaling_adjustment          = 4
    }
  }
}

resource "aws_appautoscaling_policy" "worker_in" {
  for_each           = local.worker_queues
  name               = "${var.name}-${each.key}-queue-empty"
  policy_type        = "StepScaling"
  service_namespace  = "ecs"
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  step_scaling_policy_configuration {
    # Down to the minimum (zero for GPUs) in one step: nothing waits and nothing runs.
    adjustment_type         = "ExactCapacity"
    cooldown                = 300
    metric_aggregation_type = "Maximum"
    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = each.value.min
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "queue_waiting" {
  for_each            = local.worker_queues
  alarm_name          = "${var.name}-${each.key}-queue-waiting"
  alarm_description   = "Jobs wait on the ${each.key} queue with no free worker: add workers."
  namespace           = var.metrics_namespace
  metric_name         = "QueueWaiting"
  dimensions          = { Environment = var.environment, Queue = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.worker_out[each.key].arn]
}

resource "aws_cloudwatch_metric_alarm" "queue_empty" {
  for_each            = local.worker_queues
  alarm_name          = "${var.name}-${each.key}-queue-empty"
  alarm_description   = "Nothing waits or runs on the ${each.key} queue: scale to the minimum."
  namespace           = var.metrics_namespace
  metric_name         = "QueueBacklog"
  dimensions          = { Environment = var.environment, Queue = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.scale_to_zero_after_minutes
  # Below 0.5 means exactly 0 (counts are whole numbers).
  comparison_operator = "LessThanThreshold"
  threshold           = 0.5
  # No metric (the publisher is down) is no reason to stop workers mid-job.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_appautoscaling_policy.worker_in[each.key].arn]
}
