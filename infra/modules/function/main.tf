resource "google_cloudfunctions2_function" "this" {
  project     = var.project_id
  name        = var.name
  location    = var.region
  description = var.description

  build_config {
    runtime     = "python311"
    entry_point = var.entry_point
    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    service_account_email          = var.service_account_email
    available_memory               = var.memory
    timeout_seconds                = var.timeout_seconds
    max_instance_count             = var.max_instances
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    environment_variables          = var.env

    dynamic "secret_environment_variables" {
      for_each = var.secret_env
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = var.event_type
    pubsub_topic          = var.pubsub_topic
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = var.trigger_service_account_email

    dynamic "event_filters" {
      for_each = var.event_filters
      content {
        attribute = event_filters.key
        value     = event_filters.value
      }
    }
  }
}

# Eventarc delivers the trigger's events as the trigger identity: it must be allowed to
# invoke the function's Cloud Run service, or every event is refused (403).
resource "google_cloud_run_v2_service_iam_member" "trigger_invokes" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.trigger_service_account_email}"
}
