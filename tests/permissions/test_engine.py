"""Hand-written decisions, one or more per step and rule of apps/permissions/reference.py.
Each runs through the engine and the reference evaluator (``decide`` checks they agree)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from apps.permissions.decision import AccessRequest, Step
from apps.permissions.engine import compile_snapshot
from tests.permissions.security_facts import (ALICE, BOB, CAROL, FUTURE, NOW, OWNER, PAST, clearance, decide, grant,
                                              ip_whitelist, label, label_grant, member, of_role, package,
                                              package_allowance, package_install, package_object, policy, project,
                                              protection_exception, request, role, role_member, setting, statement,
                                              table, trusted_project, user)

ORDERS = "projects/sales/tables/orders"


def sales(*extra, members=(ALICE, BOB, CAROL)) -> dict[str, list[dict]]:
    return {"sales": [project("sales"), *(member(principal) for principal in members), table("orders"), *extra]}


def shared(provider_extra=(), consumer_extra=(), allowance_label: int = 0, allowance_expires: str | None = None):
    """``sales`` shares ``orders`` in package ``pk`` with ``shop``, which installed it."""
    return {
        "sales": [project("sales"), member(ALICE), table("orders"), package("pk"), package_object("pk", "orders"),
                  package_allowance("pk", "shop", allowance_label, allowance_expires), *provider_extra],
        "shop": [project("shop", owner="ALIYUN$shopowner"), member(BOB), member(CAROL), package_install("sales", "pk"),
                 *consumer_extra],
    }


def via_shop(principal: str = BOB, **fields):
    return request(principal, via_project="shop", **fields)


# --- authentication ---------------------------------------------------------------------------

def test_member_with_a_grant_is_allowed_by_it():
    decision = decide(sales(grant(7, user(ALICE), "orders")), request(ALICE))
    assert (decision.allowed, decision.step, decision.trace[-1].rule) == (True, Step.ACL, {"kind": "grant", "id": 7})
    assert [step.step for step in decision.trace] == list(Step)[:6]


def test_stranger_is_denied_at_authentication_even_with_a_grant():
    decision = decide(sales(grant(7, user("RAM$acme:mallory"), "orders")), request("RAM$acme:mallory"))
    assert (decision.allowed, decision.step) == (False, Step.AUTHENTICATION)
    assert "not a member" in decision.reason


def test_removed_user_keeps_grants_that_do_not_apply():
    facts = sales(grant(7, user(ALICE), "orders"), members=(BOB,))
    assert decide(facts, request(ALICE)).step == Step.AUTHENTICATION
    readded = sales(grant(7, user(ALICE), "orders"), members=(ALICE, BOB))
    assert decide(readded, request(ALICE)).allowed


def test_unknown_project_is_denied_at_authentication():
    decision = decide(sales(), request(ALICE, project_name="nowhere"))
    assert (decision.allowed, decision.step) == (False, Step.AUTHENTICATION)


def test_member_of_the_consumer_project_authenticates_for_package_access():
    decision = decide(shared(consumer_extra=[grant(3, user(BOB), "sales.pk", ("Read",), object_type="package")]),
                      via_shop(BOB))
    assert decision.trace[0].rule == {"kind": "member", "project": "shop"}
    assert (decision.allowed, decision.step) == (True, Step.PACKAGE)


# --- ip_whitelist -----------------------------------------------------------------------------

def test_address_in_the_project_whitelist_passes():
    decision = decide(sales(grant(7, user(ALICE), "orders"), ip_whitelist(["10.0.0.0/8"])), request(ALICE))
    assert decision.allowed and decision.trace[1].outcome == "pass"


def test_address_outside_the_whitelist_is_denied_even_for_the_owner():
    decision = decide(sales(ip_whitelist(["192.168.0.0/16"])), request(OWNER))
    assert (decision.allowed, decision.step) == (False, Step.IP_WHITELIST)
    assert decision.trace[-1].rule == {"kind": "ip_whitelist", "scope": "project", "network": "ip"}


def test_a_vpc_whitelist_alone_shuts_out_the_internet_network():
    facts = sales(grant(7, user(ALICE), "orders"), ip_whitelist(["10.0.0.0/8"], network="vpc"))
    assert decide(facts, request(ALICE, network="vpc")).allowed
    decision = decide(facts, request(ALICE, network="ip"))
    assert (decision.allowed, decision.step) == (False, Step.IP_WHITELIST)


def test_tenant_whitelist_is_checked_before_the_project_whitelist():
    facts = sales(grant(7, user(ALICE), "orders"), ip_whitelist(["10.0.0.0/8"]),
                  ip_whitelist(["172.16.0.0/12"], scope="tenant"))
    decision = decide(facts, request(ALICE))
    assert (decision.step, decision.trace[-1].rule["scope"]) == (Step.IP_WHITELIST, "tenant")


def test_request_without_address_is_denied_when_a_whitelist_applies():
    decision = decide(sales(ip_whitelist(["*"])), request(OWNER, source_ip=None))
    assert (decision.allowed, decision.step) == (False, Step.IP_WHITELIST)


def test_empty_whitelist_means_no_whitelist():
    decision = decide(sales(ip_whitelist([])), request(OWNER, source_ip=None))
    assert decision.allowed and decision.trace[1].outcome == "skip"


# --- project_protection -----------------------------------------------------------------------

def protected(*extra):
    return sales(setting("ProjectProtection", True), grant(7, user(ALICE), "orders"), *extra)


def test_protection_off_lets_data_leave():
    decision = decide(sales(grant(7, user(ALICE), "orders")), request(ALICE, destination_project="garden"))
    assert decision.allowed and decision.trace[2].outcome == "skip"


def test_protection_keeps_data_from_flowing_into_another_project():
    decision = decide(protected(), request(ALICE, destination_project="garden"))
    assert (decision.allowed, decision.step) == (False, Step.PROJECT_PROTECTION)


def test_protection_blocks_downloads_and_binds_the_owner():
    decision = decide(protected(), request(OWNER, "Download"))
    assert (decision.allowed, decision.step) == (False, Step.PROJECT_PROTECTION)


def test_protection_leaves_work_inside_the_project_alone():
    decision = decide(protected(), request(ALICE, destination_project="sales"))
    assert decision.allowed and decision.trace[2].outcome == "skip"


def test_trusted_project_may_receive_protected_data():
    decision = decide(protected(trusted_project("garden")), request(ALICE, destination_project="garden"))
    assert decision.allowed
    assert decision.trace[2].rule == {"kind": "trusted_project", "project": "garden"}


def test_exception_policy_lets_one_principal_out_under_its_condition():
    exception = protection_exception([statement("Allow", ["Select"], [ORDERS], principal=ALICE,
                                                condition={"StringEquals": {"odps:TaskType": ["SQL"]}})])
    decision = decide(protected(exception), request(ALICE, destination_project="garden"))
    assert decision.allowed
    assert decision.trace[2].rule == {"kind": "protection_exception", "statement": 0}
    refused = decide(protected(exception), request(ALICE, destination_project="garden", task_type="DT"))
    assert (refused.allowed, refused.step) == (False, Step.PROJECT_PROTECTION)


def test_exception_policy_can_name_the_destination_project():
    exception = protection_exception([statement("Allow", ["Select"], [ORDERS], principal="*",
                                                condition={"StringEquals": {"odps:DestinationProject": ["garden"]}})])
    assert decide(protected(exception), request(ALICE, destination_project="garden")).allowed
    assert not decide(protected(exception), request(ALICE, destination_project="desert")).allowed


def test_package_access_wins_over_protection():
    facts = shared(provider_extra=[setting("ProjectProtection", True)],
                   consumer_extra=[grant(3, user(BOB), "sales.pk", ("Read",), object_type="package")])
    decision = decide(facts, via_shop(BOB, destination_project="shop"))
    assert decision.allowed and decision.step == Step.PACKAGE
    assert decision.trace[2].rule == {"kind": "package", "provider": "sales", "package": "pk", "consumer": "shop"}


# --- label_security ---------------------------------------------------------------------------

def labelled(*extra):
    return sales(setting("LabelSecurity", True), label("orders", 3, "email"), label("orders", 1, "amount"),
                 grant(7, user(ALICE), "orders"), grant(8, user(BOB), "orders"), *extra)


def test_column_above_clearance_is_denied_with_its_name():
    decision = decide(labelled(clearance(user(ALICE), 2)), request(ALICE, columns=("id", "amount", "email")))
    assert (decision.allowed, decision.step, decision.denied_columns) == (False, Step.LABEL_SECURITY, ("email",))
    assert decision.trace[-1].rule == {"kind": "label", "table": "orders", "clearance": 2, "levels": {"email": 3}}


def test_clearance_of_a_role_counts():
    facts = labelled(role("analyst"), role_member("analyst", ALICE), clearance(of_role("analyst"), 3))
    assert decide(facts, request(ALICE, columns=("email",))).allowed


def test_all_columns_are_checked_when_none_are_named():
    decision = decide(labelled(clearance(user(ALICE), 1)), request(ALICE))
    assert decision.denied_columns == ("email",)


def test_table_label_covers_its_unlabelled_columns():
    decision = decide(labelled(label("orders", 2), clearance(user(ALICE), 1)), request(ALICE))
    assert decision.denied_columns == ("id", "email")


def test_label_grant_lets_a_user_read_above_clearance_until_it_expires():
    assert decide(labelled(label_grant(5, user(ALICE), "orders", 3)), request(ALICE, columns=("email",))).allowed
    expired = decide(labelled(label_grant(5, user(ALICE), "orders", 3, expires=PAST)),
                     request(ALICE, columns=("email",)))
    assert (expired.allowed, expired.step) == (False, Step.LABEL_SECURITY)


def test_label_grant_to_a_role_counts():
    facts = labelled(role("analyst"), role_member("analyst", ALICE), label_grant(5, of_role("analyst"), "orders", 3))
    assert decide(facts, request(ALICE, columns=("email",))).allowed


def test_column_label_grant_overrides_the_table_label_grant():
    facts = labelled(label_grant(5, user(ALICE), "orders", 9), label_grant(6, user(ALICE), "orders", 2, ("email",)))
    decision = decide(facts, request(ALICE, columns=("amount", "email")))
    assert decision.denied_columns == ("email",)


def test_labels_bind_the_owner():
    decision = decide(labelled(), request(OWNER, columns=("email",)))
    assert (decision.allowed, decision.step) == (False, Step.LABEL_SECURITY)


def test_labels_only_apply_while_label_security_is_on():
    facts = sales(label("orders", 3, "email"), grant(7, user(ALICE), "orders"))
    decision = decide(facts, request(ALICE, columns=("email",)))
    assert decision.allowed and decision.trace[3].outcome == "skip"


def test_no_write_down_keeps_level_3_data_out_of_level_2_columns():
    facts = sales(setting("LabelSecurity", True), setting("NoWriteDown", True), label("orders", 2, "amount"),
                  label("orders", 3, "email"), clearance(user(ALICE), 3), grant(7, user(ALICE), "orders", ("Update",)))
    decision = decide(facts, request(ALICE, "Update", columns=("amount", "email"), read_level=3))
    assert (decision.allowed, decision.step, decision.denied_columns) == (False, Step.LABEL_SECURITY, ("amount",))
    assert decide(facts, request(ALICE, "Update", columns=("email",), read_level=3)).allowed


def test_writing_down_is_allowed_without_no_write_down():
    facts = sales(setting("LabelSecurity", True), label("orders", 2, "amount"),
                  grant(7, user(ALICE), "orders", ("Update",)))
    assert decide(facts, request(ALICE, "Update", columns=("amount",), read_level=3)).allowed


def test_package_label_caps_what_the_consumer_reads():
    facts = shared(provider_extra=[setting("LabelSecurity", True), label("orders", 2, "email")],
                   consumer_extra=[grant(3, user(BOB), "sales.pk", ("Read",), object_type="package")],
                   allowance_label=1)
    decision = decide(facts, via_shop(BOB, columns=("id", "email")))
    assert (decision.allowed, decision.step, decision.denied_columns) == (False, Step.LABEL_SECURITY, ("email",))
    assert decision.trace[-1].rule["package_label"] == 1
    assert decide(facts, via_shop(BOB, columns=("id",))).allowed


# --- policy -----------------------------------------------------------------------------------

def test_policy_deny_beats_an_acl_grant():
    facts = sales(grant(7, user(ALICE), "orders"),
                  policy([statement("Allow", ["Describe"], [ORDERS], principal="*"),
                          statement("Deny", ["Select"], [ORDERS], principal=ALICE)]))
    decision = decide(facts, request(ALICE))
    assert (decision.allowed, decision.step) == (False, Step.POLICY)
    assert decision.trace[-1].rule == {"kind": "policy", "role": None, "statement": 1}
    assert "Explicitly denied".lower() in decision.reason.lower()


def test_role_policy_allow_covers_every_column():
    facts = sales(role("reader"), role_member("reader", BOB),
                  policy([statement("Allow", ["Select"], ["projects/sales/tables/ord*"])], role_name="reader"))
    decision = decide(facts, request(BOB, columns=("id", "email")))
    assert (decision.allowed, decision.step) == (True, Step.POLICY)
    assert decision.trace[-1].rule == {"kind": "policy", "role": "reader", "statement": 0}


def test_deny_wins_over_allow_for_the_same_action():
    facts = sales(role("reader"), role_member("reader", BOB),
                  policy([statement("Allow", ["Select"], [ORDERS])], role_name="reader"),
                  policy([statement("Deny", ["*"], ["projects/sales/tables/*"], principal="RAM$bob")]))
    decision = decide(facts, request(BOB))
    assert (decision.allowed, decision.step, decision.trace[-1].rule["role"]) == (False, Step.POLICY, None)


def test_policy_of_a_role_not_held_does_not_apply():
    facts = sales(role("reader"), policy([statement("Allow", ["Select"], [ORDERS])], role_name="reader"))
    assert decide(facts, request(BOB)).step == Step.DEFAULT


def test_statement_whose_condition_fails_is_ignored():
    deny = statement("Deny", ["Select"], [ORDERS], principal=ALICE,
                     condition={"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}})
    facts = sales(grant(7, user(ALICE), "orders"), policy([deny]))
    assert decide(facts, request(ALICE, source_ip="10.1.1.1")).allowed
    assert decide(facts, request(ALICE, source_ip="8.8.8.8")).step == Step.POLICY


def test_owner_and_super_administrator_are_exempt_from_policy_denies():
    facts = sales(role("super_administrator"), role_member("super_administrator", CAROL),
                  policy([statement("Deny", ["*"], ["projects/sales/tables/*"], principal="*")]))
    owner = decide(facts, request(OWNER))
    assert (owner.allowed, owner.step, owner.trace[-1].rule) == (True, Step.ACL, {"kind": "owner"})
    admin = decide(facts, request(CAROL))
    assert (admin.allowed, admin.trace[-1].rule) == (True, {"kind": "role", "role": "super_administrator"})
    assert admin.trace[4].outcome == "skip"


def test_policies_are_ignored_when_the_policy_check_is_off():
    facts = sales(setting("CheckPermissionUsingPolicy", False), grant(7, user(ALICE), "orders"),
                  policy([statement("Deny", ["Select"], [ORDERS], principal=ALICE)]))
    assert decide(facts, request(ALICE)).allowed


def test_policy_may_allow_a_table_that_does_not_exist_yet():
    facts = sales(policy([statement("Allow", ["Select"], ["projects/sales/tables/tmp_*"], principal=ALICE)]))
    decision = decide(facts, request(ALICE, obj="tmp_report"))
    assert (decision.allowed, decision.step) == (True, Step.POLICY)


def test_project_level_actions_use_the_project_resource():
    facts = sales(policy([statement("Allow", ["CreateTable"], ["projects/sales"], principal=ALICE)]))
    decision = decide(facts, request(ALICE, "CreateTable", "sales", object_type="project"))
    assert (decision.allowed, decision.step) == (True, Step.POLICY)


# --- acl --------------------------------------------------------------------------------------

def test_grant_to_a_role_applies_to_its_members():
    facts = sales(role("reader"), role_member("reader", BOB), grant(9, of_role("reader"), "orders"))
    decision = decide(facts, request(BOB))
    assert (decision.allowed, decision.trace[-1].rule) == (True, {"kind": "grant", "id": 9})


def test_role_wildcard_grant_covers_every_table():
    facts = sales(role("reader"), role_member("reader", BOB), grant(9, of_role("reader"), "*", ("Describe",)))
    assert decide(facts, request(BOB, "Describe", "anything")).allowed
    assert decide(facts, request(BOB, "Select")).step == Step.DEFAULT


def test_role_privileges_apply_to_its_members():
    facts = sales(role("writer", [{"object_type": "table", "name": "*", "actions": ["All"]}]),
                  role_member("writer", BOB))
    decision = decide(facts, request(BOB, "Update"))
    assert decision.trace[-1].rule == {"kind": "role_privilege", "role": "writer", "privilege": 0}
    # "All" on a table leaves out Download, which is granted on its own.
    assert decide(facts, request(BOB, "Download")).step == Step.DEFAULT


def test_expired_grant_does_not_apply():
    facts = sales(grant(7, user(ALICE), "orders", expires=PAST), grant(8, user(BOB), "orders", expires=FUTURE))
    assert decide(facts, request(ALICE)).step == Step.DEFAULT
    assert decide(facts, request(BOB)).allowed
    assert decide(facts, request(BOB, now=NOW + timedelta(days=2))).step == Step.DEFAULT


def test_conditioned_grant_applies_only_while_its_condition_holds():
    facts = sales(grant(7, user(ALICE), "orders", condition={"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}))
    assert decide(facts, request(ALICE, source_ip="10.2.3.4")).allowed
    assert decide(facts, request(ALICE, source_ip="8.8.8.8")).step == Step.DEFAULT


def test_column_grant_covers_only_its_columns():
    facts = sales(grant(7, user(ALICE), "orders", columns=("id", "amount")))
    allowed = decide(facts, request(ALICE, columns=("id", "amount")))
    assert (allowed.allowed, allowed.trace[-1].rule) == (True, {"kind": "grant", "id": 7})
    denied = decide(facts, request(ALICE, columns=("id", "email")))
    assert (denied.allowed, denied.step, denied.denied_columns) == (False, Step.ACL, ("email",))


def test_column_grants_add_up():
    facts = sales(grant(7, user(ALICE), "orders", columns=("id",)), role("r"), role_member("r", ALICE),
                  grant(8, of_role("r"), "orders", columns=("email", "amount")))
    decision = decide(facts, request(ALICE, columns=("id", "email")))
    assert decision.allowed
    assert decision.trace[-1].rule == {"kind": "columns", "rules": [{"kind": "grant", "id": 7},
                                                                    {"kind": "grant", "id": 8}]}


def test_column_grants_do_not_give_the_whole_table():
    decision = decide(sales(grant(7, user(ALICE), "orders", columns=("id",))), request(ALICE))
    assert (decision.allowed, decision.step, decision.denied_columns) == (False, Step.ACL, ())


def test_creator_may_use_their_table_while_the_setting_is_on():
    facts = sales(table("drafts", creator=BOB))
    decision = decide(facts, request(BOB, "Drop", "drafts"))
    assert (decision.allowed, decision.trace[-1].rule) == (True, {"kind": "creator", "object": "drafts"})
    off = sales(table("drafts", creator=BOB), setting("ObjectCreatorHasAccessPermission", False))
    assert decide(off, request(BOB, "Drop", "drafts")).step == Step.DEFAULT


def test_acl_check_off_gives_nothing_but_the_owner():
    facts = sales(setting("CheckPermissionUsingACL", False), grant(7, user(ALICE), "orders"))
    decision = decide(facts, request(ALICE))
    assert (decision.step, decision.trace[5].outcome) == (Step.DEFAULT, "skip")
    assert decide(facts, request(OWNER)).allowed


def test_provider_grants_do_not_apply_to_a_non_member_working_elsewhere():
    facts = shared(provider_extra=[grant(7, user(BOB), "orders")])
    facts["sales"].remove(package_object("pk", "orders"))
    decision = decide(facts, via_shop(BOB))
    assert (decision.step, decision.trace[5].outcome) == (Step.DEFAULT, "skip")


def test_grants_on_package_objects_are_not_acl_grants():
    facts = sales(grant(7, user(ALICE), "orders", package="other.pk"))
    assert decide(facts, request(ALICE)).step == Step.DEFAULT


# --- package ----------------------------------------------------------------------------------

def test_whole_package_read_grant_allows_its_objects():
    facts = shared(consumer_extra=[grant(3, user(BOB), "sales.pk", ("Read",), object_type="package")])
    decision = decide(facts, via_shop(BOB, columns=("id", "email")))
    assert (decision.allowed, decision.step) == (True, Step.PACKAGE)
    assert decision.trace[-1].rule == {"kind": "grant", "id": 3, "package": "sales.pk"}


def test_package_grant_to_a_consumer_role():
    facts = shared(consumer_extra=[role_member("buyers", CAROL),
                                   grant(3, of_role("buyers"), "sales.pk", ("Read",), object_type="package")])
    assert decide(facts, via_shop(CAROL)).allowed


def test_refobject_column_grant_covers_only_its_columns():
    facts = shared(consumer_extra=[grant(4, user(BOB), "orders", ("Select",), columns=("id",), package="sales.pk")])
    assert decide(facts, via_shop(BOB, columns=("id",))).allowed
    decision = decide(facts, via_shop(BOB, columns=("id", "email")))
    assert (decision.allowed, decision.step, decision.trace[-2].outcome) == (False, Step.DEFAULT, "skip")


def test_consumer_owner_uses_installed_packages_without_grants():
    decision = decide(shared(), via_shop("ALIYUN$shopowner"))
    assert (decision.allowed, decision.step) == (True, Step.PACKAGE)
    assert decision.trace[-1].rule == {"kind": "package", "provider": "sales", "package": "pk"}


def test_package_gives_only_its_actions():
    facts = shared(consumer_extra=[grant(3, user(BOB), "sales.pk", ("Read",), object_type="package")])
    assert decide(facts, via_shop(BOB, action="Update")).step == Step.DEFAULT


def test_expired_allowance_or_missing_install_shares_nothing():
    grants = [grant(3, user(BOB), "sales.pk", ("Read",), object_type="package")]
    expired = shared(consumer_extra=grants, allowance_expires=PAST)
    assert decide(expired, via_shop(BOB)).step == Step.DEFAULT
    uninstalled = shared(consumer_extra=grants)
    uninstalled["shop"].remove(package_install("sales", "pk"))
    assert decide(uninstalled, via_shop(BOB)).step == Step.DEFAULT


# --- default ----------------------------------------------------------------------------------

def test_nothing_allows_by_default():
    decision = decide(sales(), request(ALICE))
    assert (decision.allowed, decision.step) == (False, Step.DEFAULT)
    assert decision.reason == "no rule allows Select on table sales.orders"


def test_dropped_table_is_denied_by_default():
    facts = sales(grant(7, user(ALICE), "orders"))
    facts["sales"] = [fact for fact in facts["sales"] if fact["kind"] != "object" and fact["kind"] != "grant"]
    assert decide(facts, request(ALICE)).step == Step.DEFAULT


# --- the request, the decision and the snapshot -----------------------------------------------

def test_request_spells_actions_and_columns_canonically():
    access = request(ALICE, "select", columns=("ID", "id", "Email"))
    assert (access.action, access.columns) == ("Select", ("id", "email"))


def test_request_needs_a_time():
    with pytest.raises(ValueError, match="current_time"):
        AccessRequest(principal=ALICE, project="sales", action="Select", object_type="table", object_name="orders",
                      context=request().context.__class__())


def test_decision_as_dict_is_json():
    decision = decide(labelled(), request(ALICE, columns=("email",)))
    document = json.loads(json.dumps(decision.as_dict()))
    assert document["step"] == "label_security" and document["denied_columns"] == ["email"]
    assert document["trace"][-1]["rule"]["levels"] == {"email": 3}


def test_snapshot_is_immutable_and_knows_its_version():
    snapshot = compile_snapshot(sales()["sales"], version=4)
    assert (snapshot.name, snapshot.version) == ("sales", 4)
    with pytest.raises(AttributeError):
        snapshot.version = 5


def test_partial_acl_grants_leave_room_for_a_package_when_working_elsewhere():
    facts = shared(provider_extra=[member(BOB), grant(7, user(BOB), "orders", columns=("id",))],
                   consumer_extra=[grant(3, user(BOB), "sales.pk", ("Read",), object_type="package")])
    decision = decide(facts, via_shop(BOB, columns=("id", "email")))
    assert (decision.allowed, decision.step, decision.trace[5].outcome) == (True, Step.PACKAGE, "pass")
    at_home = decide(facts, request(BOB, columns=("id", "email")))
    assert (at_home.allowed, at_home.step, at_home.denied_columns) == (False, Step.ACL, ("email",))


def test_grants_of_another_package_do_not_open_this_one():
    facts = shared(consumer_extra=[grant(3, user(BOB), "sales.other", ("Read",), object_type="package"),
                                   grant(4, user(BOB), "orders", ("Select",), package="sales.other")])
    assert decide(facts, via_shop(BOB)).step == Step.DEFAULT


def test_expired_column_label_grant_leaves_the_table_grant_in_force():
    facts = labelled(label_grant(5, user(ALICE), "orders", 9), label_grant(6, user(ALICE), "orders", 2, ("email",),
                                                                           expires=PAST))
    assert decide(facts, request(ALICE, columns=("email",))).allowed
