"""`make load`: 50 simulated tenant admins of two tenants on the portal, mixing page views
with changes. Ids come from build_load_tenants (LOAD_IDS)."""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

from locust import HttpUser, between, task

IDS = json.loads(Path(os.environ["LOAD_IDS"]).read_text(encoding="utf-8"))
ACCOUNTS = itertools.cycle(
    [(tenant, account) for tenant in IDS for account in IDS[tenant]["accounts"]]
)


class TenantAdmin(HttpUser):
    wait_time = between(0.1, 0.6)

    def on_start(self) -> None:
        self.tenant, account = next(ACCOUNTS)
        self.ids = IDS[self.tenant]
        self.client.get("/accounts/login/", name="sign in page")
        self._post(
            "/accounts/login/", {"username": account, "password": self.ids["password"]}, "sign in"
        )

    def _post(self, url: str, data: dict, name: str):
        data = {**data, "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")}
        return self.client.post(url, data, name=name)

    def pick_user(self) -> str:
        return random.choice(self.ids["users"])

    def pick_group(self) -> str:
        return random.choice(self.ids["groups"])

    def pick_product(self) -> str:
        return random.choice(self.ids["products"])

    # -- page views -------------------------------------------------------------------------
    @task(4)
    def all_products(self) -> None:
        self.client.get("/licenses/products/", name="All products")

    @task(4)
    def licensed_users(self) -> None:
        page = random.randint(1, 20)
        self.client.get(
            f"/licenses/products/{self.pick_product()}/?page={page}", name="Licensed users"
        )

    @task(3)
    def user_licenses(self) -> None:
        self.client.get(f"/users/{self.pick_user()}/licenses/", name="User licenses")

    @task(2)
    def group_licenses(self) -> None:
        self.client.get(f"/groups/{self.pick_group()}/licenses/", name="Group licenses")

    # -- changes ----------------------------------------------------------------------------
    @task(2)
    def assign(self) -> None:
        users = random.sample(self.ids["users"], k=random.randint(1, 3))
        self._post(
            "/licenses/assign/",
            {"action": "assign", "product": self.pick_product(), "user": users},
            "Assign",
        )

    @task(2)
    def remove(self) -> None:
        self._post(
            f"/users/{self.pick_user()}/licenses/remove/",
            {"product": self.pick_product()},
            "Remove license",
        )

    @task(1)
    def add_member(self) -> None:
        self._post(
            f"/groups/{self.pick_group()}/members/add/", {"user": self.pick_user()}, "Add member"
        )

    @task(1)
    def remove_member(self) -> None:
        self._post(
            f"/groups/{self.pick_group()}/members/remove/",
            {"user": self.pick_user()},
            "Remove member",
        )

    @task(1)
    def reprocess(self) -> None:
        self._post(f"/users/{self.pick_user()}/licenses/reprocess/", {}, "Reprocess user")
