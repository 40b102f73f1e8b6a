#!/usr/bin/env bash
# Moves the web service to the task definition Terraform registered, through CodeDeploy:
# blue/green with the environment's traffic shift (a 10% canary for 5 minutes in prod),
# rolled back by CodeDeploy itself if a deployment alarm fires or the new tasks fail.
# Usage: infra/deploy/web_deploy.sh <terraform env dir>
set -euo pipefail
env_dir=$1
out() { terraform -chdir="$env_dir" output -json stack | jq -r "$1"; }
task_def=$(out .web_task_definition_arn)
app=$(out .web_codedeploy.application)
group=$(out .web_codedeploy.deployment_group)

appspec=$(jq -n --arg td "$task_def" '{
  version: 0.0,
  Resources: [{TargetService: {Type: "AWS::ECS::Service", Properties: {
    TaskDefinition: $td,
    LoadBalancerInfo: {ContainerName: "web", ContainerPort: 8000}}}}]}')
revision=$(jq -n --arg content "$appspec" \
  '{revisionType: "AppSpecContent", appSpecContent: {content: $content}}')
id=$(aws deploy create-deployment --application-name "$app" --deployment-group-name "$group" \
  --revision "$revision" --query deploymentId --output text)
echo "CodeDeploy deployment $id -> $task_def"
if ! aws deploy wait deployment-successful --deployment-id "$id"; then
  aws deploy get-deployment --deployment-id "$id" \
    --query 'deploymentInfo.[status,errorInformation.message,rollbackInfo.rollbackMessage]' >&2
  echo "web deployment failed and was rolled back" >&2
  exit 1
fi
