# The API behind an external HTTPS load balancer with a Cloud Armor policy: a rate-based
# rule limits requests per client IP across every API instance (the API's own token
# bucket, QUANTRUN_RATE_*, counts per instance). Off by default: the platform creates it
# only when `edge_domain` is set, and then the API takes traffic from the load balancer
# only.

resource "google_compute_region_network_endpoint_group" "api" {
  project               = var.project_id
  name                  = "${var.name}-neg"
  region                = var.region
  network_endpoint_type = "SERVERLESS"
  cloud_run {
    service = var.api_service_name
  }
}

resource "google_compute_security_policy" "api" {
  project     = var.project_id
  name        = "${var.name}-armor"
  description = "QuantRun API: request rate per client IP, and known-exploit filters"

  rule {
    action      = "throttle"
    priority    = 1000
    description = "at most requests_per_minute per client IP, whatever instance serves it"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.requests_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 900
    description = "Log4j lookups (CVE-2021-44228) in any request"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "everything else"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

resource "google_compute_backend_service" "api" {
  project               = var.project_id
  name                  = "${var.name}-backend"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.api.id
  backend {
    group = google_compute_region_network_endpoint_group.api.id
  }
  log_config {
    enable = true
  }
}

resource "google_compute_url_map" "api" {
  project         = var.project_id
  name            = "${var.name}-urls"
  default_service = google_compute_backend_service.api.id
}

resource "google_compute_managed_ssl_certificate" "api" {
  project = var.project_id
  name    = "${var.name}-cert"
  managed {
    domains = [var.domain]
  }
}

resource "google_compute_ssl_policy" "api" {
  project         = var.project_id
  name            = "${var.name}-tls"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "api" {
  project          = var.project_id
  name             = "${var.name}-https"
  url_map          = google_compute_url_map.api.id
  ssl_certificates = [google_compute_managed_ssl_certificate.api.id]
  ssl_policy       = google_compute_ssl_policy.api.id
}

resource "google_compute_global_address" "api" {
  project = var.project_id
  name    = "${var.name}-ip"
}

resource "google_compute_global_forwarding_rule" "api" {
  project               = var.project_id
  name                  = "${var.name}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  target                = google_compute_target_https_proxy.api.id
  ip_address            = google_compute_global_address.api.id
  port_range            = "443"
}
