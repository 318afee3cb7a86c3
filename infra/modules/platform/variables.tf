variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy into."
}

variable "environment" {
  type        = string
  description = "Environment name, part of every resource name (dev, prod)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.environment))
    error_message = "environment must be 2-8 lowercase letters or digits."
  }
}

variable "region" {
  type        = string
  description = "Region of Cloud Run, Cloud SQL, functions and the image registry."
}

variable "data_location" {
  type        = string
  description = "Location of the BigQuery dataset and the buckets."
}

variable "api_image" {
  type        = string
  description = "First API image (null: a placeholder tag the deploy step replaces)."
  default     = null
}

variable "worker_image" {
  type        = string
  description = "First worker image (null: a placeholder tag the deploy step replaces)."
  default     = null
}

variable "api_public" {
  type        = bool
  description = "Let anyone reach the API over HTTPS (requests still need an API key)."
  default     = true
}

variable "api_invokers" {
  type        = list(string)
  description = "Members allowed to call the API when api_public is false."
  default     = []
}

variable "api_min_instances" {
  type        = number
  description = "API instances kept warm."
  default     = 0
}

variable "api_max_instances" {
  type        = number
  description = "Upper bound on API instances."
  default     = 5
}

variable "worker_min_instances" {
  type        = number
  description = "Worker instances kept warm."
  default     = 0
}

variable "worker_max_instances" {
  type        = number
  description = "Upper bound on worker instances: each runs 2 jobs or shards at once on 2 vCPUs, so a job of N shards runs on up to min(N, 2 x this) at a time (shards are sized by QUANTRUN_SHARD_COST to a few seconds of one core)."
  default     = 50
}

variable "worker_request_timeout_seconds" {
  type        = number
  description = "Longest job run through push; also the push ack deadline (max 600)."
  default     = 600
  validation {
    condition     = var.worker_request_timeout_seconds >= 10 && var.worker_request_timeout_seconds <= 600
    error_message = "The push ack deadline caps it at 600 seconds."
  }
}

variable "database_tier" {
  type        = string
  description = "Cloud SQL machine tier."
  default     = "db-custom-1-3840"
}

variable "database_high_availability" {
  type        = bool
  description = "Regional Cloud SQL instance."
  default     = false
}

variable "private_network" {
  type        = string
  description = "VPC self link for Cloud SQL private IP (null: the public IP, reached only through the connector with IAM auth)."
  default     = null
}

variable "private_subnetwork" {
  type        = string
  description = "Subnetwork of private_network the services use for Direct VPC egress (required with it)."
  default     = null
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the database, tables and services from terraform destroy."
  default     = true
}

variable "secret_names" {
  type        = list(string)
  description = "Secret Manager secrets to create (values are added out of band). provider-* go to ingestion, the others to the API."
  default     = ["provider-alphavantage-key", "webhook-secrets-key"]
}

variable "ingest_schedule" {
  type        = string
  description = "Cron schedule of the daily price ingestion (America/New_York)."
  default     = "30 18 * * 1-5"
}

variable "ingest_symbols" {
  type        = list(string)
  description = "Symbols that seed the instruments the scheduled ingestion refreshes: each one without a record is registered (active) at the next run; after that the API manages them (POST/PATCH /v1/instruments)."
  default     = ["SPY", "AAPL", "AMZN", "GOOG", "MSFT"]
}

variable "ingest_prices_source_object" {
  type        = string
  description = "Zipped source of functions/ingest_prices in the function source bucket."
  default     = "ingest_prices.zip"
}

variable "ingest_upload_source_object" {
  type        = string
  description = "Zipped source of functions/ingest_upload in the function source bucket."
  default     = "ingest_upload.zip"
}

variable "edge_domain" {
  type        = string
  description = "Domain of an external HTTPS load balancer with a Cloud Armor rate rule in front of the API (null: none; clients call the API's run.app URL)."
  default     = null
}

variable "edge_requests_per_minute" {
  type        = number
  description = "With the edge load balancer: requests one client IP may make per minute, across every API instance."
  default     = 600
}

variable "long_worker_instances" {
  type        = number
  description = "Instances of the long-jobs worker pool (`quantrun worker --pull`); 0 leaves long jobs queued."
  default     = 1
}

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) the alert policies notify; empty: incidents show in the console only."
  default     = []
}

variable "artifact_retention_days" {
  type        = number
  description = "Days the artifacts bucket keeps job files (lifecycle rule); the API stops listing a job's artifacts after as long."
  default     = 90
}
