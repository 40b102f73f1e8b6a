# Web deploys are blue/green through CodeDeploy: the new task set receives a canary share
# of traffic first (10% for 5 minutes in production), and CodeDeploy rolls back on its
# own when a deployment alarm fires (5xx rate, p95 latency, unhealthy targets) or the new
# tasks fail. Terraform registers the task definition; the deploy workflow starts the
# CodeDeploy deployment (.github/workflows/ci.yml), after the migration task has run.
resource "aws_lb_target_group" "web_green" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; tasks answer plain HTTP in private subnets, reachable only from the load balancer's security group (as the blue group).
  name                 = "${var.name}-web-g"
  port                 = 8000
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_iam_role" "codedeploy" {
  name = "${var.name}-codedeploy"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "codedeploy.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "codedeploy" {
  role       = aws_iam_role.codedeploy.name
  policy_arn = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
}

resource "aws_codedeploy_app" "web" {
  name             = "${var.name}-web"
  compute_platform = "ECS"
}

resource "aws_codedeploy_deployment_group" "web" {
  app_name               = aws_codedeploy_app.web.name
  deployment_group_name  = "web"
  service_role_arn       = aws_iam_role.codedeploy.arn
  deployment_config_name = var.web_deployment_config

  deployment_style {
    deployment_type   = "BLUE_GREEN"
    deployment_option = "WITH_TRAFFIC_CONTROL"
  }

  blue_green_deployment_config {
    deployment_ready_option {
      action_on_timeout = "CONTINUE_DEPLOYMENT"
    }
    terminate_blue_instances_on_deployment_success {
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = 10
    }
  }

  ecs_service {
    cluster_name = aws_ecs_cluster.main.name
    service_name = aws_ecs_service.web.name
  }

  load_balancer_info {
    target_group_pair_info {
      prod_traffic_route {
        listener_arns = [aws_lb_listener.https.arn]
      }
      target_group {
        name = aws_lb_target_group.web.name
      }
      target_group {
        name = aws_lb_target_group.web_green.name
      }
    }
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }

  alarm_configuration {
    enabled = true
    alarms  = [for a in aws_cloudwatch_metric_alarm.deployment : a.alarm_name]
  }
}

# Alarms that stop a web deployment and roll it back (the alarms module pages people;
# these watch the same signals on a shorter fuse, during deployments).
resource "aws_cloudwatch_metric_alarm" "deployment" {
  # The replacement tasks land in whichever target group is not live, so both are watched.
  for_each = {
    target-5xx      = { metric = "HTTPCode_Target_5XX_Count", stat = "Sum", threshold = 5, dimensions = tomap({ LoadBalancer = aws_lb.web.arn_suffix }) }
    unhealthy-blue  = { metric = "UnHealthyHostCount", stat = "Maximum", threshold = 0, dimensions = tomap({ LoadBalancer = aws_lb.web.arn_suffix, TargetGroup = aws_lb_target_group.web.arn_suffix }) }
    unhealthy-green = { metric = "UnHealthyHostCount", stat = "Maximum", threshold = 0, dimensions = tomap({ LoadBalancer = aws_lb.web.arn_suffix, TargetGroup = aws_lb_target_group.web_green.arn_suffix }) }
  }
  alarm_name          = "${var.name}-deploy-${each.key}"
  alarm_description   = "Rolls a web deployment back (CodeDeploy)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.stat
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
}
