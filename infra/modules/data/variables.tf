variable "project_id" {
  type        = string
  description = "Project of the dataset and buckets."
}

variable "location" {
  type        = string
  description = "Location of the dataset and buckets (e.g. EU, europe-west1)."
}

variable "dataset_id" {
  type        = string
  description = "BigQuery dataset (CONTRACT: quantrun)."
  default     = "quantrun"
}

variable "artifacts_bucket_name" {
  type        = string
  description = "Globally unique name of the artifacts bucket."
}

variable "uploads_bucket_name" {
  type        = string
  description = "Globally unique name of the uploads bucket (objects under uploads/ are ingested)."
}

variable "artifact_retention_days" {
  type        = number
  description = "Days before job artifacts are deleted."
  default     = 90
}

variable "dataset_readers" {
  type        = list(string)
  description = "Members that read prices (API, worker)."
  default     = []
}

variable "dataset_writers" {
  type        = list(string)
  description = "Members that write prices (ingest functions)."
  default     = []
}

variable "artifact_writers" {
  type        = list(string)
  description = "Members that create and read artifacts, never delete or overwrite them (worker; API: manifests)."
  default     = []
}

variable "artifact_readers" {
  type        = list(string)
  description = "Members that read artifacts and sign URLs for them (API)."
  default     = []
}

variable "upload_processors" {
  type        = list(string)
  description = "Members that read uploads and move rejected files (ingest function)."
  default     = []
}


variable "kms_key_name" {
  type        = string
  description = "Optional CMEK key for the dataset (null: Google-managed encryption)."
  default     = null
}
