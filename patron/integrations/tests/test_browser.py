"""Seed walk for integrations, in English and in Vietnamese: connect a Shopify store
(the health check asks a Shopify-like server on loopback), import a small CSV with a
bad row and read the dry run row by row, then add a webhook endpoint and see its
signing secret once."""

import re

import pytest
from playwright.sync_api import expect

from patron.integrations.tests.fake_shopify import TOKEN, FakeShopify

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "login": "Log in", "email": "Email", "password": "Password", "contacts": "Contacts",
        "integrations": "Integrations", "domain": "Shop domain",
        "token": "Admin API access token", "secret": "Webhook secret", "connect": "Connect",
        "saved": "Store settings saved.", "check": "Check connection", "file": "CSV file",
        "upload": "Upload", "mapping": "Column mapping", "dry_run": "Dry run",
        "outcome": "Dry run: what each row would do", "summary": "1 created, 0 updated, "
        "0 unchanged, 1 with errors.", "url": "Endpoint URL", "add": "Add endpoint",
        "signing": "Signing secret",
    },
    "vi": {
        "login": "Đăng nhập", "email": "Email", "password": "Mật khẩu", "contacts": "Khách hàng",
        "integrations": "Tích hợp", "domain": "Tên miền cửa hàng",
        "token": "Mã truy cập Admin API", "secret": "Khóa bí mật webhook", "connect": "Kết nối",
        "saved": "Đã lưu cài đặt cửa hàng.", "check": "Kiểm tra kết nối", "file": "Tệp CSV",
        "upload": "Tải lên", "mapping": "Ghép cột", "dry_run": "Chạy thử",
        "outcome": "Chạy thử: kết quả dự kiến của từng dòng", "summary": None,
        "url": "URL nhận webhook", "add": "Thêm điểm nhận", "signing": "Khóa ký",
    },
}  # fmt: skip

CSV = "Phone,Name,Birthday\n0980 111 222,Lan Tran,1991-02-03\n12345,Bad Phone,\n"


@pytest.fixture
def fake(settings):
    settings.SHOPIFY_ADMIN_URL = "http://{shop}/admin/api/{version}/graphql.json"
    # The import runs as soon as it is asked for, inside the request, as a worker would.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    server = FakeShopify().start()
    yield server
    server.stop()


def log_in(page, demo, language):
    words = WORDS[language]
    page.goto("/login/")
    if language != "en":
        page.get_by_label("Language").select_option(language)
        page.wait_for_load_state()
    page.get_by_label(words["email"]).fill(demo.email)
    page.get_by_label(words["password"]).fill(demo.password)
    page.get_by_role("button", name=words["login"]).click()
    expect(page.get_by_role("heading", name=words["contacts"])).to_be_visible()
    return words


@pytest.mark.parametrize("language", ["en", "vi"])
def test_connect_shopify_import_a_csv_and_add_a_webhook_endpoint(
    page, demo, fake, tmp_path, language
):
    words = log_in(page, demo, language)

    # Shopify: connect the store, then the health check asks the loopback store.
    page.goto("/integrations/shopify/")
    page.get_by_label(words["domain"]).fill(fake.domain)
    page.get_by_label(words["token"]).fill(TOKEN)
    page.get_by_label(words["secret"]).fill("shopify-webhook-secret")
    page.get_by_role("button", name=words["connect"], exact=True).click()
    expect(page.get_by_text(words["saved"])).to_be_visible()
    page.get_by_role("button", name=words["check"]).click()
    expect(page.get_by_text("Connected to Alpha Store").first).to_be_visible()
    assert fake.operations() == ["shop"]
    assert TOKEN not in page.content()

    # CSV import: upload, keep the guessed columns, dry run, read each row's outcome.
    upload = tmp_path / "customers.csv"
    upload.write_text(CSV, encoding="utf-8")
    page.get_by_role("navigation", name=words["integrations"]).get_by_role(
        "link", name=re.compile("Import|Nhập")
    ).click()
    page.get_by_label(words["file"], exact=True).set_input_files(str(upload))
    page.get_by_role("button", name=words["upload"]).click()
    expect(page.get_by_role("heading", name=words["mapping"])).to_be_visible()
    page.get_by_role("button", name=words["dry_run"], exact=True).click()
    expect(page.get_by_role("heading", name=words["outcome"])).to_be_visible()
    progress = page.locator("#import-bar")
    expect(progress).to_have_attribute("value", "100")
    rows = page.get_by_role("table").last.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("+84980111222")
    expect(rows.nth(1)).to_contain_text("2")
    expect(rows.nth(1).locator("td").nth(2)).not_to_be_empty()
    if words["summary"]:
        expect(page.get_by_text(words["summary"])).to_be_visible()

    # Outgoing webhooks: a new endpoint shows its signing secret this once.
    page.goto("/integrations/webhooks/")
    page.get_by_label(words["url"]).fill("https://hooks.example.com/patron")
    page.get_by_role("button", name=words["add"]).click()
    secret = page.get_by_label(words["signing"])
    expect(secret).to_have_value(re.compile(r"^whsec_"))
    expect(page.get_by_role("link", name="https://hooks.example.com/patron")).to_be_visible()
    page.goto("/integrations/webhooks/")
    expect(page.get_by_role("link", name="https://hooks.example.com/patron")).to_be_visible()
    expect(page.get_by_label(words["signing"])).to_have_count(0)
