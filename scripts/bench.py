"""`make bench`: the scaling figures (README, Benchmarks), one `name: value` line each.

Runs against the PostgreSQL in DATABASE_URL (scripts/with-postgres starts a throwaway one),
with the test settings (DEBUG off, immediate task backend: group processing runs in this
process, end to end). Builds a tenant with 100,000 users, one group holding all of them and
20 purchased products, then measures. Not a test: nothing here asserts a target; the
README's "Benchmarks" section lists them. ``BENCH_ONLY=pages`` builds only the big customer's
tenant and times its pages; ``BENCH_ONLY=api`` builds a tenant of 10,000 users and times the
API's calls (not the walk of 100,000 users).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path, reverse  # noqa: E402

from licensing import services  # noqa: E402
from licensing.models import (  # noqa: E402
    DirectoryUser,
    Group,
    LicenseError,
    ProcessingState,
    Product,
    ProductServicePlan,
    Role,
    RoleAssignment,
    ServicePlan,
    Subscription,
    Tenant,
    UserLicense,
)
from portal.access import portal_view  # noqa: E402
from portal.graph.views import endpoint  # noqa: E402
from scripts.bulk import (  # noqa: E402
    add_audit_events,
    add_users,
    group_of_everyone,
    group_of_first,
)

USERS = 100_000
PRODUCTS = 20
PAGE_RUNS = 41
BATCH_RUNS = 11
# The big customer: one licensed group of 60,000 members, 24,000 of them without a seat,
# 200 groups in all, a year of audit events.
BIG_GROUP = 60_000
BIG_SEATS = 36_000
GROUPS = 200
AUDIT_EVENTS = 100_000

# What fills each URL argument of a blade, on the big customer's tenant.
ROUTE_ARGS = {
    "sku_id": lambda w: w["product"].sku_id,
    "user_id": lambda w: w["user"].public_id,
    "group_id": lambda w: w["group"].public_id,
    "client_id": lambda w: w["app"].client_id,
    "token_id": lambda w: w["token"].public_id,
}
# GET routes that answer a file, not a page: measured in rows per second.
FILES = {"portal:product_download"}


def portal_routes() -> list[tuple[str, list[str]]]:
    """Every blade of the portal's URLconf: (its name, the names of its URL arguments)."""
    from portal import portal_urls

    return [
        (f"{portal_urls.app_name}:{pattern.name}", list(pattern.pattern.converters))
        for pattern in portal_urls.urlpatterns
    ]


def route_urls(world: dict) -> list[tuple[str, str]]:
    """(name, address) of every route of the portal's URLconf, its arguments filled from
    ``world`` (a product, a user, a group, an app and a token: ``ROUTE_ARGS``); the bench
    times them, the tests that walk every page ask them."""
    return [
        (name, reverse(name, kwargs={a: ROUTE_ARGS[a](world) for a in arguments}))
        for name, arguments in portal_routes()
    ]


@portal_view
def minimal_view(request):
    """The yardstick: signed in, through every middleware and the portal's access check
    (account, tenant, role), and nothing else."""
    return HttpResponse("ok")


def minimal_api_view(request):
    """The API's yardstick: the bearer token checked, the app read, the envelope ready."""
    return JsonResponse({"value": []})


urlpatterns = [
    path("bench/minimal/", minimal_view),
    path("v1.0/bench/minimal", endpoint(GET=(minimal_api_view, False))),
    path("", include("portal.urls")),
]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def emit(name: str, value: float, digits: int = 3) -> None:
    print(f"{name}: {value:.{digits}f}", flush=True)


def build() -> tuple[Tenant, Group, list[Product]]:
    tenant = Tenant.objects.create(
        name="Bench", initial_domain="bench.onmicrosoft.com", country="NL"
    )
    products = list(Product.objects.filter(applies_to="User").order_by("display_name")[:PRODUCTS])
    for i in range(len(products), PRODUCTS):
        # The catalog ships fewer products than a big tenant buys: bench-only ones, each
        # with a plan of its own.
        plan = ServicePlan.objects.create(
            service_plan_id=f"00000000-0000-4000-8000-{i:012d}",
            service_plan_name=f"BENCH_PLAN_{i}",
            display_name=f"Bench service {i}",
        )
        product = Product.objects.create(
            sku_id=f"00000000-0000-4000-9000-{i:012d}",
            sku_part_number=f"BENCH_{i}",
            display_name=f"Bench product {i:02d}",
            applies_to="User",
        )
        ProductServicePlan.objects.create(product=product, service_plan=plan, position=0)
        products.append(product)
    for product in products:
        services.subscription_create(
            tenant=tenant,
            product=product,
            units=2 * USERS,
            start_date=datetime.date(2026, 1, 1),
            actor=None,
        )
    # 100,000 users and one group of all of them, in SQL: setup, not measured.
    add_users(tenant, USERS, name="Bench", locations=["NL", "NL", "BE", "DE", ""])
    group = group_of_everyone(tenant, "All employees")
    return tenant, group, products


def insert_select_floor(tenant: Tenant, group: Group, product: Product) -> float:
    """A raw INSERT … SELECT of one row per member, shaped like UserLicense, into a scratch
    table with the same indexes (no foreign keys: the floor)."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_scratch (LIKE licensing_userlicense INCLUDING ALL)")
        start = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO bench_scratch (tenant_id, user_id, product_id, assignment_id,
              via_group_id, disabled_plans, state, error, last_updated)
            SELECT %s, m.user_id, %s, 0, m.group_id, '[]'::jsonb, 'Active', '', now()
            FROM licensing_groupmembership m WHERE m.group_id = %s
            """,
            [tenant.id, product.id, group.id],
        )
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_scratch")
    return elapsed


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"bench: unexpected result: {what}")


def page_ratio(client: Client, url: str, minimal: str) -> float:
    """Median server time of a page over the median of the minimal view, interleaved."""
    page_times, minimal_times = [], []
    for _ in range(3):  # warm caches and connections
        client.get(url)
        client.get(minimal)
    for _ in range(PAGE_RUNS):
        start = time.perf_counter()
        response = client.get(url)
        page_times.append(time.perf_counter() - start)
        check(response.status_code == 200, f"{url} answered {response.status_code}")
        start = time.perf_counter()
        response = client.get(minimal)
        minimal_times.append(time.perf_counter() - start)
        check(response.status_code == 200, f"minimal view answered {response.status_code}")
    return statistics.median(page_times) / statistics.median(minimal_times)


def main() -> None:
    settings.ROOT_URLCONF = __name__
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} {connection.cursor().connection.info.server_version}")
    if os.environ.get("BENCH_ONLY") == "pages":
        # The edit-test loop of a page: only the big customer and its pages.
        actor = get_user_model().objects.create_user("bench-admin", password="not-secret")
        product = Product.objects.get(sku_part_number="ENTERPRISEPACK")
        page_figures(big_customer(product, actor), "/bench/minimal/")
        return
    if os.environ.get("BENCH_ONLY") == "api":
        # The edit-test loop of the API's calls: a smaller tenant, no walk of every user.
        tenant = Tenant.objects.create(
            name="Bench", initial_domain="bench.onmicrosoft.com", country="NL"
        )
        product = Product.objects.get(sku_part_number="ENTERPRISEPACK")
        services.subscription_create(
            tenant=tenant,
            product=product,
            units=2 * USERS,
            start_date=datetime.date(2026, 1, 1),
            actor=None,
        )
        add_users(tenant, USERS // 10, name="Bench", locations=["NL", "NL", "BE", "DE", ""])
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        api_figures(tenant, product, Client(), walk=False)
        return
    tenant, group, products = build()
    first, second = products[0], products[1]
    members = group.memberships.count()
    check(members == USERS, f"{members} members")
    actor = get_user_model().objects.create_user("bench-admin", password="not-secret")
    RoleAssignment.objects.create(account=actor, tenant=tenant, role=Role.GLOBAL_ADMINISTRATOR)

    # Three rounds of floor, assign and remove (medians), side by side so that the machine's
    # drift affects the floor and the assign alike; the rows come and go each round.
    floors, assigns, removes = [], [], []
    for _ in range(3):
        floors.append(insert_select_floor(tenant, group, first))
        assigns.append(
            timed(
                lambda: services.group_assign_products(
                    tenant=tenant, group=group, products={first: []}, actor=actor
                )
            )
        )
        group.refresh_from_db()
        check(group.processing_state == ProcessingState.COMPLETE, "group not complete")
        check(UserLicense.objects.filter(via_group=group).count() == USERS, "rows after assign")
        removes.append(
            timed(
                lambda: services.group_remove_products(
                    tenant=tenant, group=group, products=[first], actor=actor
                )
            )
        )
        check(not UserLicense.objects.filter(via_group=group).exists(), "rows after remove")
        # As autovacuum would between two such changes: the next assign starts clean.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE licensing_userlicense")
    emit("insert_select_floor_s", floor := statistics.median(floors))
    assign = statistics.median(assigns)
    emit("group_assign_100k_s", assign)
    emit("group_assign_100k_vs_floor", assign / floor, 2)
    emit("group_remove_100k_s", statistics.median(removes))

    # Half the members waiting for a seat: 50,000 units for 100,000 members.
    subscription = Subscription.objects.get(tenant=tenant, product=second)
    services.subscription_update(
        tenant=tenant, subscription=subscription, units=USERS // 2, actor=actor
    )
    services.group_assign_products(tenant=tenant, group=group, products={second: []}, actor=actor)
    waiting = UserLicense.objects.filter(via_group=group, error=LicenseError.COUNT)
    check(waiting.count() == USERS // 2, "50,000 members in CountViolation")
    # Seats bought outside the portal (a billing sync raising the units), then Reprocess.
    Subscription.objects.filter(id=subscription.id).update(units=2 * USERS)
    reprocess = timed(lambda: services.reprocess_group(tenant=tenant, group=group, actor=actor))
    check(not waiting.exists(), "members still waiting after reprocess")
    emit("reprocess_50k_count_violations_s", reprocess)
    emit("reprocess_50k_count_violations_vs_floor", reprocess / floor, 2)

    third = products[2]
    runs = []
    people = list(
        DirectoryUser.objects.filter(tenant=tenant).order_by("id").values_list("id", flat=True)
    )
    for run in range(3):
        users = list(DirectoryUser.objects.filter(id__in=people[run * 1000 : (run + 1) * 1000]))
        runs.append(
            timed(
                lambda users=users: services.product_assign_to_users(
                    tenant=tenant, product=third, users=users, actor=actor
                )
            )
        )
    emit("direct_assign_1000_users_s", statistics.median(runs))

    # Pages are measured in the steady state: autovacuum analyzes a table within about a
    # minute of a change this big; the benchmark does it now instead of waiting.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = Client()
    client.force_login(actor)
    minimal = "/bench/minimal/"
    emit(
        "products_page_vs_minimal_view", page_ratio(client, reverse("portal:products"), minimal), 2
    )
    emit(
        "licensed_users_page_vs_minimal_view",
        page_ratio(client, reverse("portal:product", args=[second.sku_id]), minimal),
        2,
    )
    api_figures(tenant, products[3], client)
    page_figures(
        big_customer(Product.objects.get(sku_part_number="ENTERPRISEPACK"), actor), minimal
    )
    emit("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)


def big_customer(
    product: Product,
    actor,
    *,
    name: str = "Big",
    users: int = USERS,
    members: int = BIG_GROUP,
    seats: int = BIG_SEATS,
    groups: int = GROUPS,
    events: int = AUDIT_EVENTS,
) -> dict:
    """A tenant shaped like a big customer: 100,000 users, a group of 60,000 licensed with a
    product of 36,000 seats (24,000 members in CountViolation), 199 groups of 50 more, a
    year of audit events, an app and a provisioning token. The query-count tests build it
    smaller, with the same shape."""
    tenant = Tenant.objects.create(
        name=name, initial_domain=f"{name.lower()}.onmicrosoft.com", country="NL"
    )
    services.subscription_create(
        tenant=tenant,
        product=product,
        units=seats,
        start_date=datetime.date(2026, 1, 1),
        actor=None,
    )
    add_users(tenant, users, name=name, locations=["NL", "BE", "DE", ""])
    group = group_of_first(tenant, "All sales", members)
    for i in range(1, groups):
        group_of_first(tenant, f"Team {i:03d}", 50, offset=members + i * 50)
    add_audit_events(tenant, events)
    RoleAssignment.objects.create(account=actor, tenant=tenant, role=Role.GLOBAL_ADMINISTRATOR)
    services.group_assign_products(tenant=tenant, group=group, products={product: []}, actor=actor)
    waiting = UserLicense.objects.filter(via_group=group, error=LicenseError.COUNT)
    check(waiting.count() == members - seats, f"{members - seats:,} members in CountViolation")
    app, _ = services.app_register(tenant=tenant, name="Big script", actor=actor)
    token, _ = services.scim_token_issue(tenant=tenant, actor=actor)
    with connection.cursor() as cursor:
        # VACUUM too, where it can run (not in a test's transaction): autovacuum would visit
        # the new rows while the pages are timed, on a machine of two cores.
        cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
    return {
        "tenant": tenant,
        "actor": actor,
        "product": product,
        "group": group,
        "user": waiting.select_related("user").first().user,
        "app": app,
        "token": token,
    }


def signed_in(world: dict, **defaults) -> Client:
    """A client signed in as the tenant's Global administrator, in that tenant."""
    client = Client(**defaults)
    client.force_login(world["actor"])
    session = client.session
    session["portal_tenant_id"] = world["tenant"].id
    session.save()
    return client


def page_figures(world: dict, minimal: str) -> None:
    """Every GET blade of the portal's URLconf on the big customer's tenant, over the minimal
    view, as its Global administrator: one line each, and the slowest. A route that answers
    GET with 405 changes something (POST only) and is not a page."""
    client = signed_in(world)
    ratios = {}
    for name, url in route_urls(world):
        if _answer_to_get(client, url) == 405:
            continue
        if name in FILES:
            emit(f"{name.split(':')[1]}_rows_per_s", download_rate(client, url), 0)
            continue
        ratios[name] = page_ratio(client, url, minimal)
        emit(f"page_{name.split(':')[1]}_vs_minimal_view", ratios[name], 2)
    slowest = max(ratios, key=ratios.get)
    emit("slowest_page_vs_minimal_view", ratios[slowest], 2)
    print(f"slowest_page: {slowest}", flush=True)


def _answer_to_get(client: Client, url: str) -> int:
    """The status of a GET, without the warning Django logs for a 405."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return client.get(url).status_code
    finally:
        logger.setLevel(level)


def download_rate(client: Client, url: str) -> float:
    """Rows per second of a streamed CSV download (the best of three)."""
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        response = client.get(url)
        rows = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
        best = max(best, rows / (time.perf_counter() - start))
    return best


def api_figures(tenant: Tenant, product: Product, client: Client, walk: bool = True) -> None:
    """The Graph-compatible API: a one-user assignLicense over the minimal API view, a
    ``$batch`` of 20 of them over the same 20 sent one by one, and (``walk``) every page of
    the 100,000 users over a raw SELECT of the same columns."""
    settings.GRAPH_RATE_LIMIT = 1_000_000
    app, secret = services.app_register(tenant=tenant, name="Bench", actor=None)
    token = client.post(
        f"/{tenant.public_id}/oauth2/v2.0/token",
        {
            "grant_type": "client_credentials",
            "client_id": str(app.client_id),
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        },
    ).json()["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    person = DirectoryUser.objects.filter(tenant=tenant).order_by("-id").first()
    url = f"/v1.0/users/{person.public_id}/assignLicense"
    bodies = [
        {"addLicenses": [{"skuId": str(product.sku_id)}], "removeLicenses": []},
        {"addLicenses": [], "removeLicenses": [str(product.sku_id)]},
    ]
    assign_times, minimal_times = [], []
    for run in range(3 + PAGE_RUNS * 2):
        start = time.perf_counter()
        response = client.post(
            url, json.dumps(bodies[run % 2]), content_type="application/json", **bearer
        )
        took = time.perf_counter() - start
        check(response.status_code == 200, f"assignLicense answered {response.status_code}")
        start = time.perf_counter()
        response = client.get("/v1.0/bench/minimal", **bearer)
        minimal_took = time.perf_counter() - start
        check(response.status_code == 200, f"minimal API view answered {response.status_code}")
        if run >= 3:
            assign_times.append(took)
            minimal_times.append(minimal_took)
    emit(
        "api_assign_license_vs_minimal_api_view",
        statistics.median(assign_times) / statistics.median(minimal_times),
        2,
    )
    people = list(DirectoryUser.objects.filter(tenant=tenant).order_by("-id")[1:21])
    emit("api_batch_20_assign_vs_single", batch_ratio(client, bearer, people, product), 2)
    if walk:
        list_figures(tenant, client, bearer)


def batch_ratio(client: Client, bearer: dict, people: list, product: Product) -> float:
    """A ``$batch`` of 20 assignLicense over the same 20 sent one by one: medians of rounds
    that add the license to the 20 one way and remove it the other, then the reverse."""
    add = {"addLicenses": [{"skuId": str(product.sku_id)}], "removeLicenses": []}
    remove = {"addLicenses": [], "removeLicenses": [str(product.sku_id)]}

    def singly(body: dict) -> None:
        for person in people:
            response = client.post(
                f"/v1.0/users/{person.public_id}/assignLicense",
                json.dumps(body),
                content_type="application/json",
                **bearer,
            )
            check(response.status_code == 200, f"assignLicense answered {response.status_code}")

    def batched(body: dict) -> None:
        requests = [
            {
                "id": str(n),
                "method": "POST",
                "url": f"/users/{person.public_id}/assignLicense",
                "body": body,
                "headers": {"Content-Type": "application/json"},
            }
            for n, person in enumerate(people)
        ]
        response = client.post(
            "/v1.0/$batch", json.dumps({"requests": requests}), "application/json", **bearer
        )
        check(response.status_code == 200, f"$batch answered {response.status_code}")
        statuses = {answer["status"] for answer in response.json()["responses"]}
        check(statuses == {200}, f"$batch requests answered {statuses}")

    singles, batches = [], []
    for run in range(1 + BATCH_RUNS):  # the first round warms up
        single = timed(lambda: singly(add))
        batch = timed(lambda: batched(remove))
        batch += timed(lambda: batched(add))
        single += timed(lambda: singly(remove))
        if run:
            singles.append(single)
            batches.append(batch)
    return statistics.median(batches) / statistics.median(singles)


def list_figures(tenant: Tenant, client: Client, bearer: dict) -> None:
    """Every page of the 100,000 users over a raw SELECT of the same columns."""

    def walk() -> int:
        seen, url = 0, "/v1.0/users?$select=assignedLicenses,usageLocation&$top=999"
        while url:
            body = client.get(url, **bearer).json()
            seen += len(body["value"])
            url = body.get("@odata.nextLink", "").removeprefix("http://testserver")
        return seen

    def floor() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT u.public_id, u.usage_location, p.sku_id, l.disabled_plans
                FROM licensing_directoryuser u
                LEFT JOIN licensing_userlicense l
                  ON l.user_id = u.id AND l.state IN ('Active', 'ActiveWithError', 'Suspended')
                LEFT JOIN licensing_product p ON p.id = l.product_id
                WHERE u.tenant_id = %s AND u.soft_deleted_at IS NULL ORDER BY u.id""",
                [tenant.id],
            )
            cursor.fetchall()

    walks, floors = [], []
    for _ in range(5):
        floors.append(timed(floor))
        start = time.perf_counter()
        check(walk() == USERS, "every user listed")
        walks.append(time.perf_counter() - start)
    emit("api_list_100k_users_s", statistics.median(walks))
    emit("api_list_100k_users_vs_floor", statistics.median(walks) / statistics.median(floors), 2)


if __name__ == "__main__":
    main()
