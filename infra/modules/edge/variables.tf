variable "project_id" {
  type        = string
  description = "Project that holds the load balancer."
}

variable "region" {
  type        = string
  description = "Region of the API's Cloud Run service."
}

variable "name" {
  type        = string
  description = "Prefix of every resource's name."
}

variable "api_service_name" {
  type        = string
  description = "The API's Cloud Run service, behind the load balancer."
}

variable "domain" {
  type        = string
  description = "Domain the managed certificate is issued for (its DNS A record points at the address output)."
}

variable "requests_per_minute" {
  type        = number
  description = "Requests one client IP may make per minute across every API instance; over it, 429."
  default     = 600

  validation {
    condition     = var.requests_per_minute >= 1
    error_message = "requests_per_minute must be at least 1."
  }
}
