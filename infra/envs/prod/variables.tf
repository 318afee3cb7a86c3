variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy into."
}

variable "region" {
  type        = string
  description = "Region of the services."
  default     = "europe-west1"
}

variable "data_location" {
  type        = string
  description = "Location of the dataset and buckets."
  default     = "EU"
}

variable "api_image" {
  type        = string
  description = "First API image (the deploy step updates it)."
  default     = null
}

variable "worker_image" {
  type        = string
  description = "First worker image (the deploy step updates it)."
  default     = null
}

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channel ids the alert policies notify (e.g. an email channel made in the console)."
  default     = []
}
