"""marketplace: a provider's matching open requests walk an index per (service, covered city), page first

``homeops_matching_requests`` (p014) filtered every open request of the provider's categories and cities (18k
at the benchmark's scale: the planner took the expiry index, estimated 17 rows, got 1,115) and joined the
provider's quotes to every match before its ``ORDER BY … LIMIT``: 29 ms p50 / 60 ms p99 in SQL for the providers
with the most matches. Now it takes the page's keys first — per (service, covered city) an ordered walk of
``ix_service_requests_open_feed`` that stops after ``p_limit`` hits (its INCLUDE columns answer the remaining
filters: an index-only scan on an all-visible heap), plus the radius branch on ``ix_service_requests_open_area``
— merged and limited, then reads those ``p_limit`` rows and the provider's live quote on them. Same rows in the
same order (checked on 142 calls of 75 providers, first and second pages), same checks of the caller.

The two indexes replace ``ix_service_requests_open_match`` and ``ix_service_requests_open_location`` (same
leading keys; nothing else reads them). On a Citus coordinator the function keeps p014's body: Citus does not push
a LIMIT in a lateral subquery over a table function down to the shards. Downgrade restores those two and keeps the new function body (it
returns the same rows; only its speed depends on the new indexes).

Revision ID: p018
Revises: p017
"""

from collections.abc import Sequence

from alembic import op

from homeops.core import ddl

revision: str = "p018"
down_revision: str | None = "p017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('open', 'quotes_received')"


def upgrade() -> None:
    ddl.citus_session()
    op.execute(
        "CREATE INDEX ix_service_requests_open_feed ON service_requests"
        " (problem_category, city_key, created_at DESC, id DESC)"
        " INCLUDE (requester_id, area_key, expires_at, preferred_provider_type)"
        f" WHERE {_OPEN}"
    )
    op.execute(
        "CREATE INDEX ix_service_requests_open_area ON service_requests (problem_category, latitude)"
        " INCLUDE (longitude, created_at, id, requester_id, expires_at, preferred_provider_type)"
        f" WHERE {_OPEN} AND latitude IS NOT NULL"
    )
    op.execute("DROP INDEX ix_service_requests_open_match")
    op.execute("DROP INDEX ix_service_requests_open_location")
    if ddl.citus():
        # Citus cannot push the per-pair walk down ("Limit clause is currently unsupported when a lateral
        # subquery references a column from a table function"): a cluster keeps p014's body, which reads the
        # new feed index by the same leading keys (each shard sorts and limits its own rows).
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION public.homeops_matching_requests(p_provider uuid, p_after_created timestamp with time zone, p_after_id uuid, p_limit integer)
         RETURNS TABLE(requester_id uuid, id uuid, problem_title character varying, problem_description text, problem_category character varying, diagnostic_summary jsonb, devices jsonb, additional_images jsonb, preferred_provider_type preferred_provider_type, preferred_service_date date, property_type property_type, city character varying, district character varying, approx_latitude numeric, approx_longitude numeric, status request_status, quotes_count integer, expires_at timestamp with time zone, created_at timestamp with time zone, my_quote_id uuid, my_quote_status quote_status, selected boolean, contact_name character varying, contact_phone character varying, property_address text)
         LANGUAGE plpgsql
         STABLE SECURITY DEFINER
         SET search_path TO 'public', 'pg_temp'
        AS $function$ DECLARE v provider_profiles; v_services text[]; v_cities text[]; v_whole text[]; v_areas text[];
                  v_delta numeric; v_type preferred_provider_type;
                BEGIN
                  SELECT * INTO v FROM provider_profiles WHERE provider_profiles.id = p_provider;
                  IF NOT FOUND OR NOT (v.user_id = nullif(current_setting('homeops.uid', true), '')::uuid OR coalesce(v.organization_id = ANY ((coalesce(nullif(current_setting('homeops.orgs_read', true), ''), '{}'))::uuid[]), false)) THEN
                    RAISE EXCEPTION 'provider_not_found' USING ERRCODE = 'insufficient_privilege';
                  END IF;
                  SELECT coalesce(array_agg(s), '{}') INTO v_services FROM jsonb_array_elements_text(v.services_offered) s;
                  SELECT coalesce(array_agg(DISTINCT substr(k, 6)), '{}') INTO v_cities
                    FROM unnest(v.search_keys) k WHERE k LIKE 'city:%';
                  SELECT coalesce(array_agg(DISTINCT substr(k, 10)), '{}') INTO v_whole
                    FROM unnest(v.search_keys) k WHERE k LIKE 'city-all:%';
                  SELECT coalesce(array_agg(DISTINCT substr(k, 6)), '{}') INTO v_areas
                    FROM unnest(v.search_keys) k WHERE k LIKE 'area:%';
                  v_delta := coalesce(v.service_radius_km, 0) / 111.0;
                  v_type := v.provider_type::text::preferred_provider_type;

                  IF NOT v.is_verified THEN RETURN; END IF;
                  -- (1) The page's keys only: per (service, covered city) the newest matching open requests, each an
                  -- ordered walk of ix_service_requests_open_feed that stops after p_limit hits (its INCLUDE columns
                  -- answer the filters: an index-only scan), plus those within the radius (ix_service_requests_open_area);
                  -- (2) then the p_limit rows and the provider's own live quote on them.
                  RETURN QUERY
                  WITH page AS (
                    SELECT x.requester_id, x.id, x.created_at FROM (
                      SELECT m.requester_id, m.id, m.created_at
                        FROM unnest(v_services) s(code) CROSS JOIN unnest(v_cities) c(city_key)
                        CROSS JOIN LATERAL (
                          SELECT r.requester_id, r.id, r.created_at FROM service_requests r
                           WHERE r.status IN ('open', 'quotes_received') AND r.problem_category = s.code
                             AND r.city_key = c.city_key AND r.expires_at > now() AND r.requester_id <> v.user_id
                             AND r.preferred_provider_type IN ('any', v_type)
                             AND (r.city_key = ANY (v_whole) OR r.area_key = ANY (v_areas))
                             AND (p_after_id IS NULL OR (r.created_at, r.id) < (p_after_created, p_after_id))
                           ORDER BY r.created_at DESC, r.id DESC LIMIT p_limit) m
                      UNION
                      (SELECT r.requester_id, r.id, r.created_at FROM service_requests r
                        WHERE v.service_radius_km IS NOT NULL AND r.status IN ('open', 'quotes_received')
                          AND r.latitude IS NOT NULL AND r.problem_category = ANY (v_services)
                          AND r.latitude BETWEEN v.service_center_lat - v_delta AND v.service_center_lat + v_delta
                          AND r.expires_at > now() AND r.requester_id <> v.user_id
                          AND r.preferred_provider_type IN ('any', v_type)
                          AND homeops_km(r.latitude, r.longitude, v.service_center_lat, v.service_center_lon)
                              <= v.service_radius_km
                          AND (p_after_id IS NULL OR (r.created_at, r.id) < (p_after_created, p_after_id))
                        ORDER BY r.created_at DESC, r.id DESC LIMIT p_limit)
                    ) x ORDER BY x.created_at DESC, x.id DESC LIMIT p_limit)
                  SELECT r.requester_id, r.id, r.problem_title, r.problem_description,
                         r.problem_category, r.diagnostic_summary, r.devices, r.additional_images, r.preferred_provider_type,
                         r.preferred_service_date, r.property_type, r.city, r.district, round(r.latitude, 2),
                         round(r.longitude, 2), r.status, r.quotes_count, r.expires_at,
                         r.created_at, q.id, q.status, false, NULL::varchar, NULL::varchar, NULL::text
                    FROM page
                    JOIN service_requests r ON r.requester_id = page.requester_id AND r.id = page.id
                    LEFT JOIN quotes q ON q.requester_id = r.requester_id AND q.request_id = r.id
                         AND q.provider_id = p_provider AND q.status NOT IN ('withdrawn', 'expired')
                   ORDER BY page.created_at DESC, page.id DESC;
                END $function$
        """
    )


def downgrade() -> None:
    ddl.citus_session()
    op.execute(
        "CREATE INDEX ix_service_requests_open_match ON service_requests"
        f" (problem_category, city_key, created_at DESC, id DESC) WHERE {_OPEN}"
    )
    op.execute(
        "CREATE INDEX ix_service_requests_open_location ON service_requests (problem_category, latitude)"
        f" WHERE {_OPEN} AND latitude IS NOT NULL"
    )
    op.execute("DROP INDEX ix_service_requests_open_feed")
    op.execute("DROP INDEX ix_service_requests_open_area")
