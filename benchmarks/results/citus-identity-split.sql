-- what-if (bench database only): the identity settings made by one EXECUTE per SET LOCAL (as before 6bcbe00),
-- keeping 6bcbe00's single aggregation query. Citus records each SET with the whole EXECUTE string it came from.
CREATE OR REPLACE FUNCTION public.homeops_identity_apply(p_user uuid, p_role user_role)
 RETURNS TABLE(home_ids uuid[], home_roles text[], org_ids uuid[], org_roles text[])
 LANGUAGE plpgsql
AS $function$ DECLARE
  h_ids uuid[]; h_roles text[]; h_write uuid[]; h_admin uuid[]; h_owner uuid[];
  o_ids uuid[]; o_roles text[]; o_write uuid[]; o_admin uuid[]; o_owner uuid[];
BEGIN
  SELECT coalesce(array_agg(m.home_id ORDER BY m.home_id), '{}'),
         coalesce(array_agg(m.role::text ORDER BY m.home_id), '{}'),
         coalesce(array_agg(m.home_id ORDER BY m.home_id) FILTER (WHERE m.role >= 'member'), '{}'),
         coalesce(array_agg(m.home_id ORDER BY m.home_id) FILTER (WHERE m.role >= 'admin'), '{}'),
         coalesce(array_agg(m.home_id ORDER BY m.home_id) FILTER (WHERE m.role = 'owner'), '{}')
    INTO h_ids, h_roles, h_write, h_admin, h_owner
    FROM public.home_members m WHERE m.user_id = p_user;
  SELECT coalesce(array_agg(m.organization_id ORDER BY m.organization_id), '{}'),
         coalesce(array_agg(m.role::text ORDER BY m.organization_id), '{}'),
         coalesce(array_agg(m.organization_id ORDER BY m.organization_id) FILTER (WHERE m.role >= 'technician'), '{}'),
         coalesce(array_agg(m.organization_id ORDER BY m.organization_id) FILTER (WHERE m.role >= 'manager'), '{}'),
         coalesce(array_agg(m.organization_id ORDER BY m.organization_id) FILTER (WHERE m.role = 'owner'), '{}')
    INTO o_ids, o_roles, o_write, o_admin, o_owner
    FROM public.organization_members m WHERE m.user_id = p_user;
  EXECUTE format('SET LOCAL homeops.uid = %L', p_user);
  EXECUTE format('SET LOCAL homeops.role = %L', p_role);
  EXECUTE format('SET LOCAL homeops.staff = %L',
                 CASE WHEN p_role IN ('support', 'technician', 'manager', 'admin') THEN 'on' ELSE 'off' END);
  EXECUTE format('SET LOCAL homeops.homes_read = %L', h_ids);
  EXECUTE format('SET LOCAL homeops.homes_write = %L', h_write);
  EXECUTE format('SET LOCAL homeops.homes_admin = %L', h_admin);
  EXECUTE format('SET LOCAL homeops.homes_owner = %L', h_owner);
  EXECUTE format('SET LOCAL homeops.orgs_read = %L', o_ids);
  EXECUTE format('SET LOCAL homeops.orgs_write = %L', o_write);
  EXECUTE format('SET LOCAL homeops.orgs_admin = %L', o_admin);
  EXECUTE format('SET LOCAL homeops.orgs_owner = %L', o_owner);
  RETURN QUERY SELECT h_ids, h_roles, o_ids, o_roles;
END $function$;

CREATE OR REPLACE FUNCTION public.homeops_identity_reset()
 RETURNS void
 LANGUAGE plpgsql
AS $function$ BEGIN
  EXECUTE 'SET LOCAL homeops.uid = ''''';
  EXECUTE 'SET LOCAL homeops.role = ''''';
  EXECUTE 'SET LOCAL homeops.staff = ''''';
  EXECUTE 'SET LOCAL homeops.homes_read = ''''';
  EXECUTE 'SET LOCAL homeops.homes_write = ''''';
  EXECUTE 'SET LOCAL homeops.homes_admin = ''''';
  EXECUTE 'SET LOCAL homeops.homes_owner = ''''';
  EXECUTE 'SET LOCAL homeops.orgs_read = ''''';
  EXECUTE 'SET LOCAL homeops.orgs_write = ''''';
  EXECUTE 'SET LOCAL homeops.orgs_admin = ''''';
  EXECUTE 'SET LOCAL homeops.orgs_owner = ''''';
END $function$;
