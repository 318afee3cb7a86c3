variable "project_id" {
  type        = string
  description = "Project to deploy into."
}

variable "region" {
  type        = string
  description = "Cloud Run region, e.g. europe-west1."
}

variable "name" {
  type        = string
  description = "Service name."
}

variable "image" {
  type        = string
  description = "Initial container image (the deploy step updates it afterwards)."
}

variable "service_account_email" {
  type        = string
  description = "Runtime identity of the service (one per service)."
}

variable "ingress" {
  type        = string
  description = "INGRESS_TRAFFIC_ALL for the public API, INGRESS_TRAFFIC_INTERNAL_ONLY for the worker."
  default     = "INGRESS_TRAFFIC_ALL"
  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be one of the Cloud Run v2 ingress values."
  }
}

variable "min_instances" {
  type        = number
  description = "Instances kept warm (0 scales to zero)."
  default     = 0
}

variable "max_instances" {
  type        = number
  description = "Upper bound on instances (bounds cost and database connections)."
  default     = 10
}

variable "concurrency" {
  type        = number
  description = "Requests one instance serves at once."
  default     = 40
}

variable "cpu" {
  type        = string
  description = "CPU limit, e.g. \"1\" or \"2\"."
  default     = "1"
}

variable "memory" {
  type        = string
  description = "Memory limit, e.g. \"1Gi\"."
  default     = "1Gi"
}

variable "cpu_idle" {
  type        = bool
  description = "Throttle CPU outside requests (true) or keep it allocated (false: background relays)."
  default     = true
}

variable "request_timeout_seconds" {
  type        = number
  description = "Request timeout; for the worker it bounds a job's run and must not exceed the push ack deadline."
  default     = 300
  validation {
    condition     = var.request_timeout_seconds >= 1 && var.request_timeout_seconds <= 3600
    error_message = "Cloud Run allows 1-3600 seconds."
  }
}

variable "env" {
  type        = map(string)
  description = "Plain environment variables (no secrets)."
  default     = {}
}

variable "secret_env" {
  type = map(object({
    secret  = string
    version = string
  }))
  description = "Environment variables taken from Secret Manager: name -> {secret id, version}."
  default     = {}
}

variable "health_path" {
  type        = string
  description = "Startup probe path."
  default     = "/health"
}

variable "invoker_members" {
  type        = list(string)
  description = "Members granted roles/run.invoker on this service only."
  default     = []
}

variable "vpc_network" {
  type        = string
  description = "VPC network of the Direct VPC egress (with vpc_subnetwork)."
  default     = null
}

variable "vpc_subnetwork" {
  type        = string
  description = "Subnetwork for Direct VPC egress to private IPs such as Cloud SQL's (null: no VPC egress)."
  default     = null
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse terraform destroy of the service."
  default     = false
}
