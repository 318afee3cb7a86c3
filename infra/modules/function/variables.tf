variable "project_id" {
  type        = string
  description = "Project of the function."
}

variable "region" {
  type        = string
  description = "Region of the function."
}

variable "name" {
  type        = string
  description = "Function name."
}

variable "description" {
  type        = string
  description = "What the function does."
  default     = ""
}

variable "entry_point" {
  type        = string
  description = "Python function name in main.py."
}

variable "source_bucket" {
  type        = string
  description = "Bucket holding the zipped function source."
}

variable "source_object" {
  type        = string
  description = "Object name of the zipped source (its hash in the name redeploys on change)."
}

variable "service_account_email" {
  type        = string
  description = "Runtime identity of the function."
}

variable "trigger_service_account_email" {
  type        = string
  description = "Identity Eventarc uses to invoke the function."
}

variable "event_type" {
  type        = string
  description = "google.cloud.pubsub.topic.v1.messagePublished or google.cloud.storage.object.v1.finalized."
}

variable "pubsub_topic" {
  type        = string
  description = "Topic id for Pub/Sub triggers (null for storage triggers)."
  default     = null
}

variable "event_filters" {
  type        = map(string)
  description = "Eventarc filters, e.g. { bucket = \"...\" } for storage triggers."
  default     = {}
}

variable "memory" {
  type        = string
  description = "Memory, e.g. 512M."
  default     = "512M"
}

variable "timeout_seconds" {
  type        = number
  description = "Event function timeout (max 540)."
  default     = 300
}

variable "max_instances" {
  type        = number
  description = "Upper bound on instances."
  default     = 3
}

variable "env" {
  type        = map(string)
  description = "Plain environment variables."
  default     = {}
}

variable "secret_env" {
  type = map(object({
    secret  = string
    version = string
  }))
  description = "Environment variables from Secret Manager."
  default     = {}
}
