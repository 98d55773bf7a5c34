DROP INDEX IF EXISTS ix_service_requests_open_feed; DROP INDEX IF EXISTS ix_service_requests_open_area;
CREATE INDEX IF NOT EXISTS ix_service_requests_open_match ON service_requests (problem_category, city_key, created_at DESC, id DESC) WHERE status IN ('open', 'quotes_received');
CREATE INDEX IF NOT EXISTS ix_service_requests_open_location ON service_requests (problem_category, latitude) WHERE status IN ('open', 'quotes_received') AND latitude IS NOT NULL;
CREATE OR REPLACE FUNCTION public.homeops_matching_requests(p_provider uuid, p_after_created timestamp with time zone, p_after_id uuid, p_limit integer)
 RETURNS TABLE(requester_id uuid, id uuid, problem_title character varying, problem_description text, problem_category character varying, diagnostic_summary jsonb, devices jsonb, additional_images jsonb, preferred_provider_type preferred_provider_type, preferred_service_date date, property_type property_type, city character varying, district character varying, approx_latitude numeric, approx_longitude numeric, status request_status, quotes_count integer, expires_at timestamp with time zone, created_at timestamp with time zone, my_quote_id uuid, my_quote_status quote_status, selected boolean, contact_name character varying, contact_phone character varying, property_address text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'public', 'pg_temp'
AS $function$ DECLARE v provider_profiles; v_services text[]; v_cities text[]; v_whole text[]; v_areas text[];
          v_delta numeric;
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

          IF NOT v.is_verified THEN RETURN; END IF;
          RETURN QUERY
          SELECT * FROM (
            (SELECT r.requester_id AS c_requester_id, r.id AS c_id, r.problem_title, r.problem_description,
        r.problem_category, r.diagnostic_summary, r.devices, r.additional_images, r.preferred_provider_type,
        r.preferred_service_date, r.property_type, r.city, r.district, round(r.latitude, 2) AS c_lat,
        round(r.longitude, 2) AS c_lon, r.status AS c_status, r.quotes_count, r.expires_at,
        r.created_at AS c_created_at, q.id AS c_quote_id, q.status AS c_quote_status, false AS c_selected,
        CASE WHEN false THEN r.contact_name END AS c_contact_name,
        CASE WHEN false THEN r.contact_phone END AS c_contact_phone,
        CASE WHEN false THEN r.property_address END AS c_property_address
               FROM service_requests r
               LEFT JOIN quotes q ON q.requester_id = r.requester_id AND q.request_id = r.id
                    AND q.provider_id = p_provider AND q.status NOT IN ('withdrawn', 'expired')
              WHERE r.status IN ('open', 'quotes_received') AND r.expires_at > now()
            AND r.problem_category = ANY (v_services) AND r.requester_id <> v.user_id
            AND r.preferred_provider_type IN ('any', v.provider_type::text::preferred_provider_type) AND r.city_key = ANY (v_cities)
            AND (r.city_key = ANY (v_whole) OR r.area_key = ANY (v_areas))
                AND (p_after_id IS NULL OR (r.created_at, r.id) < (p_after_created, p_after_id))
              ORDER BY r.created_at DESC, r.id DESC LIMIT p_limit)
            UNION
            (SELECT r.requester_id AS c_requester_id, r.id AS c_id, r.problem_title, r.problem_description,
        r.problem_category, r.diagnostic_summary, r.devices, r.additional_images, r.preferred_provider_type,
        r.preferred_service_date, r.property_type, r.city, r.district, round(r.latitude, 2) AS c_lat,
        round(r.longitude, 2) AS c_lon, r.status AS c_status, r.quotes_count, r.expires_at,
        r.created_at AS c_created_at, q.id AS c_quote_id, q.status AS c_quote_status, false AS c_selected,
        CASE WHEN false THEN r.contact_name END AS c_contact_name,
        CASE WHEN false THEN r.contact_phone END AS c_contact_phone,
        CASE WHEN false THEN r.property_address END AS c_property_address
               FROM service_requests r
               LEFT JOIN quotes q ON q.requester_id = r.requester_id AND q.request_id = r.id
                    AND q.provider_id = p_provider AND q.status NOT IN ('withdrawn', 'expired')
              WHERE v.service_radius_km IS NOT NULL AND r.status IN ('open', 'quotes_received') AND r.expires_at > now()
            AND r.problem_category = ANY (v_services) AND r.requester_id <> v.user_id
            AND r.preferred_provider_type IN ('any', v.provider_type::text::preferred_provider_type) AND v.service_radius_km IS NOT NULL AND r.latitude IS NOT NULL
            AND r.latitude BETWEEN v.service_center_lat - v_delta AND v.service_center_lat + v_delta
            AND homeops_km(r.latitude, r.longitude, v.service_center_lat, v.service_center_lon)
                <= v.service_radius_km
                AND (p_after_id IS NULL OR (r.created_at, r.id) < (p_after_created, p_after_id))
              ORDER BY r.created_at DESC, r.id DESC LIMIT p_limit)
          ) m ORDER BY m.c_created_at DESC, m.c_id DESC LIMIT p_limit;
        END $function$
;
