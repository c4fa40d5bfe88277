using Ingot.Config;
using Ingot.Sources.Rest;

namespace Ingot.Tests.Core.Sources.Rest;

public sealed class RestConnectorTests
{
    private static RestSourceSpec Parse(string yaml, Func<string, string?>? env = null) =>
        (RestSourceSpec)TestPipelines.Parse(yaml, "shop.yaml", env ?? (_ => null)).Sources[0];

    private static string Pipeline(string source) => "name: shop\nsources:\n  - name: api\n    type: rest\n" + source + "destinations:\n  - {type: raw, path: ./lake}\n";

    [Fact]
    public void Read_DesignExample_IsReadInFull()
    {
        // Given the REST source of DESIGN §4.1
        var yaml = Pipeline("""
                base_url: ${PAYMENTS_API_URL}
                headers: {Accept-Version: "2024-01", X-Partner-Token: "pt-secret-77"}
                auth:
                  type: api_key
                  header: x-api-key
                  key: ${PAYMENTS_API_KEY}
                streams:
                  - name: payments
                    path: /v1/payments
                    params: {status: all}
                    records: data
                    primary_key: [payment_id]
                    paginate: {type: cursor, from: meta.next_cursor, param: cursor}
                    incremental: {cursor: updated_at, param: since}
                    lookback: 5m
                    event_time: paid_at

            """);

        // When
        var spec = Parse(yaml, n => n == "PAYMENTS_API_URL" ? "https://pay.test/" : n == "PAYMENTS_API_KEY" ? "pk_live_123" : null);

        // Then
        spec.BaseUrl.ShouldBe("https://pay.test");
        spec.Name.ShouldBe("api");
        spec.Auth.ShouldBe(new RestAuthSpec.ApiKey("x-api-key", null, "pk_live_123"));
        spec.Headers.ShouldBe([new("Accept-Version", "2024-01"), new("X-Partner-Token", "pt-secret-77")]);
        spec.Secrets.ShouldContain("pk_live_123");
        spec.Secrets.ShouldContain("pt-secret-77");
        spec.Secrets.ShouldNotContain("2024-01");
        var s = spec.StreamSpecs.Single();
        s.ShouldBe(s with
        {
            Name = "payments", Path = "/v1/payments", Records = "data", Lookback = TimeSpan.FromMinutes(5), EventTime = "paid_at",
            Paginate = new PaginateSpec.Cursor("meta.next_cursor", "cursor"), Incremental = new IncrementalSpec("updated_at", "since", SinceFormat.Iso8601),
        });
        s.Params.ShouldBe([new("status", "all")]);
        s.PrimaryKey.ShouldBe(["payment_id"]);
    }

    [Fact]
    public void Read_Defaults_AreTheDesignDefaults()
    {
        var spec = Parse(Pipeline("    base_url: https://a.test\n    streams:\n      - {name: a, path: /a, paginate: {type: offset}}\n      - {name: b, path: /b, paginate: {type: page}}\n      - {name: c, path: /c, primary_key: id}\n"));

        spec.Auth.ShouldBeOfType<RestAuthSpec.None>();
        spec.StreamSpecs[0].Paginate.ShouldBe(new PaginateSpec.Offset("offset", "limit", 100, 0, null));
        spec.StreamSpecs[1].Paginate.ShouldBe(new PaginateSpec.Page("page", 1, "per_page", 100, null));
        spec.StreamSpecs[2].Paginate.ShouldBe(new PaginateSpec.None());
        spec.StreamSpecs[2].PrimaryKey.ShouldBe(["id"]);
    }

    [Fact]
    public void Read_OAuth2_EveryCredentialIsASecret()
    {
        var spec = Parse(Pipeline("    base_url: https://a.test\n    auth: {type: oauth2_client_credentials, token_url: https://id.test/token, client_id: me, client_secret: s3cr3t, scope: read}\n    streams:\n      - {name: a, path: /a}\n"));

        spec.Auth.ShouldBe(new RestAuthSpec.OAuth2ClientCredentials("https://id.test/token", "me", "s3cr3t", "read", false));
        spec.Secrets.ShouldContain("s3cr3t");
    }

    [Theory]
    [InlineData("    auth: {type: digest}\n    streams:\n      - {name: a, path: /a}\n", 6, 18, "sources[0].auth.type: 'digest' is not one of api_key, bearer, basic, oauth2_client_credentials")]
    [InlineData("    auth: {type: api_key, header: X-Key, query: key, key: k}\n    streams:\n      - {name: a, path: /a}\n", 6, 49, "sources[0].auth: give header or query, not both")]
    [InlineData("    streams:\n      - {name: a, path: /a, paginate: {type: scroll}}\n", 7, 46, "sources[0].streams[0].paginate.type: 'scroll' is not one of none, offset, page, cursor, link_header, next_url")]
    [InlineData("    streams:\n      - {name: a, path: /a, lookback: 5m}\n", 7, 39, "sources[0].streams[0].lookback: only a stream with incremental: has a look-back")]
    [InlineData("    streams:\n      - {name: a, path: /a, incremental: {cursor: t, format: rfc2822}}\n", 7, 62, "sources[0].streams[0].incremental.format: 'rfc2822' is not one of iso8601, epoch_s, epoch_ms")]
    [InlineData("    streams:\n      - {name: a, path: /a, params: {since: x}, incremental: {cursor: t, param: since}}\n", 7, 37, "sources[0].streams[0].params: 'since' is set by incremental.param; remove it from params")]
    [InlineData("    streams:\n      - {name: a, path: /a, paginate: {type: cursor, from: next, param: page}, incremental: {cursor: t, param: page}}\n", 7, 9, "sources[0].streams[0]: the query parameter 'page' is set by both incremental.param and paginate.param")]
    [InlineData("    streams:\n      - {name: a, path: 'https://a.test/x'}\n", 7, 25, "sources[0].streams[0].path: give the path under base_url (e.g. /v1/payments), not a full URL")]
    [InlineData("    streams:\n      - {name: a, path: /a, pagination: {type: page}}\n", 7, 29, "sources[0].streams[0].pagination: unknown key")]
    [InlineData("    streams: []\n", 6, 14, "sources[0].streams: at least one stream is required")]
    public void Read_BadSection_FailsWithFileLineColumn(string rest, int line, int column, string message)
    {
        var yaml = Pipeline("    base_url: https://a.test\n" + rest);

        var error = Should.Throw<ConfigException>(() => Parse(yaml));

        error.Message.ShouldBe($"shop.yaml:{line}:{column}: {message}");
    }
}
