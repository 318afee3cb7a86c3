variable "project_id" {
  type        = string
  description = "Project the services run in (metrics, logs and policies live there)."
}

variable "environment" {
  type        = string
  description = "Environment name (dev, prod): prefixes display names and metric names."
}

variable "region" {
  type        = string
  description = "Region of the Cloud Run services."
}

variable "api_service_name" {
  type        = string
  description = "Cloud Run service name of the API (request metrics, uptime check)."
}

variable "api_host" {
  type        = string
  description = "Host name of the API's URL (no scheme), which the uptime check calls."
}

variable "api_public" {
  type        = bool
  description = "Whether the API admits unauthenticated callers; when not, the uptime check sends an OIDC token of the Monitoring service agent (which needs run.invoker on the API)."
}

variable "jobs_subscription" {
  type        = string
  description = "The jobs push subscription (queue age, dead-lettered messages)."
}

variable "long_jobs_subscription" {
  type        = string
  description = "The long-jobs pull subscription (queue age)."
}

variable "database_id" {
  type        = string
  description = "Cloud SQL instance as Cloud Monitoring names it: PROJECT:INSTANCE."
}

variable "notification_channels" {
  type        = list(string)
  description = "Notification channel ids (projects/P/notificationChannels/N) every alert policy notifies; empty: incidents are only shown in the console."
  default     = []
}

variable "queue_age_seconds" {
  type        = number
  description = "Alert when the oldest unacknowledged job message is older than this."
  default     = 600
}

variable "api_error_ratio" {
  type        = number
  description = "Alert when this fraction of API requests answer 5xx for 5 minutes."
  default     = 0.01
}

variable "job_failure_ratio" {
  type        = number
  description = "Alert when this fraction of finished jobs failed over 15 minutes."
  default     = 0.05
}

variable "database_cpu_utilization" {
  type        = number
  description = "Alert when Cloud SQL's CPU utilisation (0-1) stays above this for 10 minutes."
  default     = 0.8
}

variable "database_max_connections" {
  type        = number
  description = "Alert when Cloud SQL's open connections stay above this for 10 minutes (keep it under the instance's max_connections)."
  default     = 80
}
