variable "project_id" {
  type        = string
  description = "Project that owns the service account."
}

variable "account_id" {
  type        = string
  description = "Account id (the part before @), 6-30 characters."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.account_id))
    error_message = "account_id must be 6-30 lowercase letters, digits or hyphens."
  }
}

variable "display_name" {
  type        = string
  description = "Human-readable name."
}

variable "description" {
  type        = string
  description = "What the identity is for."
  default     = ""
}

variable "project_roles" {
  type        = list(string)
  description = "Project-level roles; prefer resource-level bindings. Primitive roles are refused."
  default     = []
  validation {
    condition     = length(setintersection(toset(var.project_roles), toset(["roles/owner", "roles/editor", "roles/viewer"]))) == 0
    error_message = "Primitive roles (owner, editor, viewer) are not allowed."
  }
}
