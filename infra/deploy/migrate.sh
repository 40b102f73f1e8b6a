#!/usr/bin/env bash
# Runs `manage.py migrate` once, as a one-off ECS task on the NEW image, before any
# service moves to it. Usage: infra/deploy/migrate.sh <terraform env dir> <image tag>
# The migrate task definition Terraform manages is copied with the new image (the plan
# that registers it is applied only after migrations succeed); its exit code decides.
# Migrations must work with the code still running (add first, remove a release later).
set -euo pipefail
env_dir=$1 tag=$2
out() { terraform -chdir="$env_dir" output -json stack | jq -r "$1"; }
cluster=$(out .cluster_name)
family=$(out .migrate_task_definition)
repo=$(out '.ecr_repositories.app')
subnets=$(out '.task_network.subnets | join(",")')
groups=$(out '.task_network.security_groups | join(",")')

current=$(aws ecs describe-task-definition --task-definition "$family" --query taskDefinition)
new_def=$(echo "$current" | jq --arg image "$repo:$tag" '
  .containerDefinitions[0].image = $image
  | {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, volumes,
     requiresCompatibilities, cpu, memory}')
arn=$(aws ecs register-task-definition --cli-input-json "$new_def" \
  --query taskDefinition.taskDefinitionArn --output text)

task=$(aws ecs run-task --cluster "$cluster" --task-definition "$arn" --launch-type FARGATE \
  --network-configuration "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$groups],assignPublicIp=DISABLED}" \
  --started-by "deploy-$tag" --query 'tasks[0].taskArn' --output text)
echo "migrate task $task ($repo:$tag)"
aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"
code=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
  --query 'tasks[0].containers[0].exitCode' --output text)
if [ "$code" != "0" ]; then
  echo "migrations failed (exit $code); nothing was rolled out. Logs: /caption-generator-*/app, stream migrate/" >&2
  exit 1
fi
echo "migrations applied"
