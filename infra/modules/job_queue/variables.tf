variable "project_id" {
  type        = string
  description = "Project of the topics and subscriptions."
}

variable "region" {
  type        = string
  description = "Region of the worker service."
}

variable "topic_name" {
  type        = string
  description = "Jobs topic (CONTRACT: quantrun-jobs)."
  default     = "quantrun-jobs"
}

variable "dead_letter_topic_name" {
  type        = string
  description = "Dead-letter topic (CONTRACT: quantrun-jobs-dead)."
  default     = "quantrun-jobs-dead"
}

variable "subscription_name" {
  type        = string
  description = "Push subscription (CONTRACT: quantrun-jobs-push)."
  default     = "quantrun-jobs-push"
}

variable "worker_url" {
  type        = string
  description = "HTTPS URL of the worker service; also the OIDC audience the worker checks."
}

variable "worker_service_name" {
  type        = string
  description = "Name of the worker Cloud Run service (run.invoker is granted on it only)."
}

variable "push_service_account_email" {
  type        = string
  description = "Email of the identity push requests carry as OIDC token (holds run.invoker on the worker only)."
}

variable "push_service_account_id" {
  type        = string
  description = "Fully qualified id (projects/.../serviceAccounts/...) of the push identity."
}

variable "ack_deadline_seconds" {
  type        = number
  description = "Push ack deadline; at least the worker's request timeout so a running job is not redelivered."
  default     = 600
  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600
    error_message = "Pub/Sub allows 10-600 seconds."
  }
}

variable "max_delivery_attempts" {
  type        = number
  description = "Deliveries before a message is dead-lettered."
  default     = 5
}

variable "publisher_members" {
  type        = list(string)
  description = "Members allowed to publish jobs (the API's service account)."
  default     = []
}

variable "long_jobs_topic_name" {
  type        = string
  description = "Topic of jobs too long for a push request (QUANTRUN_LONG_JOBS_TOPIC)."
  default     = "quantrun-jobs-long"
}

variable "long_jobs_subscription_name" {
  type        = string
  description = "Pull subscription of the long-jobs topic (QUANTRUN_LONG_JOBS_SUBSCRIPTION)."
  default     = "quantrun-jobs-long-pull"
}

variable "long_jobs_publisher_members" {
  type        = list(string)
  description = "Members that hand jobs to the long-jobs topic (the push worker)."
  default     = []
}

variable "long_jobs_subscriber_members" {
  type        = list(string)
  description = "Members that pull the long-jobs subscription (the pull worker)."
  default     = []
}
