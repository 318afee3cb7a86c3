variable "project_id" {
  type        = string
  description = "Project of the instance."
}

variable "region" {
  type        = string
  description = "Region of the instance (same as the services)."
}

variable "instance_name" {
  type        = string
  description = "Cloud SQL instance name."
  default     = "quantrun"
}

variable "database_name" {
  type        = string
  description = "Database for users, keys, jobs and job events."
  default     = "quantrun"
}

variable "tier" {
  type        = string
  description = "Machine tier, e.g. db-custom-1-3840."
  default     = "db-custom-1-3840"
}

variable "high_availability" {
  type        = bool
  description = "Regional (HA) instead of zonal."
  default     = false
}

variable "private_network" {
  type        = string
  description = "VPC self link for private IP (null: connector-only public IP)."
  default     = null
}

variable "backup_retention_count" {
  type        = number
  description = "Automated backups kept."
  default     = 7
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance (true in prod)."
  default     = true
}

variable "iam_service_accounts" {
  type        = list(string)
  description = "Service account emails that log in with IAM database authentication."
  default     = []
}
