data "google_project" "this" {
  project_id = var.project_id
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "jobs" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages hold job ids only, no customer data.
  project                    = var.project_id
  name                       = var.topic_name
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages hold job ids only, no customer data.
  project                    = var.project_id
  name                       = var.dead_letter_topic_name
  message_retention_duration = "604800s"
}

# The push identity (var.push_service_account) may invoke the worker and nothing else.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  project  = var.project_id
  location = var.region
  name     = var.worker_service_name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.push_service_account_email}"
}

# Pub/Sub's service agent mints the OIDC tokens for the push identity.
resource "google_service_account_iam_member" "agent_token_creator" {
  service_account_id = var.push_service_account_id
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_subscription" "push" {
  project                    = var.project_id
  name                       = var.subscription_name
  topic                      = google_pubsub_topic.jobs.id
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = "86400s"

  push_config {
    push_endpoint = "${var.worker_url}/pubsub/push"
    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.worker_url
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  depends_on = [google_pubsub_topic_iam_member.agent_publishes_dead_letters]
}

# The dead-letter topic's messages go to the worker, which fails the job with the reason.
resource "google_pubsub_subscription" "dead_letter_push" {
  project              = var.project_id
  name                 = "${var.dead_letter_topic_name}-push"
  topic                = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds = 60

  push_config {
    push_endpoint = "${var.worker_url}/pubsub/dead-letter"
    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.worker_url
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# Dead-lettering needs the Pub/Sub service agent to publish to the dead-letter topic and to
# subscribe (acknowledge) on the source subscription.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_source" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = toset(var.publisher_members)
  project  = var.project_id
  topic    = google_pubsub_topic.jobs.name
  role     = "roles/pubsub.publisher"
  member   = each.value
}

# Jobs too long for a push request (the worker hands them over, QUANTRUN_PUSH_MAX_COST):
# pulled by `quantrun worker --pull`, which has no request deadline; the client extends
# the ack deadline while a job runs, and the job's own lease guards it.
resource "google_pubsub_topic" "long_jobs" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages hold job ids only, no customer data.
  project                    = var.project_id
  name                       = var.long_jobs_topic_name
  message_retention_duration = "86400s"
}

resource "google_pubsub_subscription" "long_jobs_pull" {
  project                    = var.project_id
  name                       = var.long_jobs_subscription_name
  topic                      = google_pubsub_topic.long_jobs.id
  ack_deadline_seconds       = 600
  message_retention_duration = "86400s"
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

resource "google_pubsub_subscription_iam_member" "agent_acks_long_jobs" {
  project      = var.project_id
  subscription = google_pubsub_subscription.long_jobs_pull.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "long_jobs_publishers" {
  for_each = toset(var.long_jobs_publisher_members)
  project  = var.project_id
  topic    = google_pubsub_topic.long_jobs.name
  role     = "roles/pubsub.publisher"
  member   = each.value
}

resource "google_pubsub_subscription_iam_member" "long_jobs_subscribers" {
  for_each     = toset(var.long_jobs_subscriber_members)
  project      = var.project_id
  subscription = google_pubsub_subscription.long_jobs_pull.name
  role         = "roles/pubsub.subscriber"
  member       = each.value
}
