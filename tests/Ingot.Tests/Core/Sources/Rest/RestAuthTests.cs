using System.Net;
using System.Text;
using Ingot.Http;
using static Ingot.Tests.Core.Sources.Rest.RestTestKit;

namespace Ingot.Tests.Core.Sources.Rest;

public sealed class RestAuthTests
{
    private const string OnePage = """[{"id":1}]""";

    private static string Yaml(string auth, string stream = "    - {name: items, path: /v1/items}") =>
        $"  base_url: https://api.test\n{auth}\n  streams:\n{stream}\n";

    private static ScriptedHandler Api(Func<ScriptedHandler.Seen, HttpResponseMessage>? data = null, int? expiresIn = 3600)
    {
        var tokens = 0;
        ScriptedHandler? handler = null;
        handler = new ScriptedHandler((request, body) =>
        {
            if (request.Method == HttpMethod.Post)
            {
                tokens++;
                return Reply(expiresIn is { } e ? $$"""{"access_token":"tok{{tokens}}","token_type":"Bearer","expires_in":{{e}}}""" : $$"""{"access_token":"tok{{tokens}}","token_type":"Bearer"}""");
            }
            return data?.Invoke(handler!.Requests[^1]) ?? Reply(OnePage);
        });
        return handler;
    }

    [Fact]
    public async Task Fetch_ApiKeyHeader_SendsTheKeyInTheNamedHeaderOnly()
    {
        // Given an api_key auth in a header
        var handler = Api();
        var source = Source(Spec(Yaml("  auth: {type: api_key, header: x-api-key, key: k-header-1234}")), handler);

        // When the stream is fetched
        var pages = await RunAsync(source);

        // Then the key is in the header, not in the URL or the page's request
        var get = handler.Gets.Single();
        get.Headers["x-api-key"].ShouldBe("k-header-1234");
        get.Url.Query.ShouldNotContain("k-header-1234");
        pages.Single().RedactedRequest.ShouldBe("GET https://api.test/v1/items");
    }

    [Fact]
    public async Task Fetch_ApiKeyQuery_SendsTheKeyAsParameterAndRedactsIt()
    {
        // Given an api_key auth in a query parameter whose name does not look like a key
        var handler = Api();
        var source = Source(Spec(Yaml("  auth: {type: api_key, query: appid, key: k-query-5678}")), handler);

        // When
        var pages = await RunAsync(source);

        // Then the URL carries it, and the recorded request masks it
        ScriptedHandler.Query(handler.Gets.Single().Url, "appid").ShouldBe("k-query-5678");
        pages.Single().RedactedRequest.ShouldBe("GET https://api.test/v1/items?appid=***");
    }

    [Fact]
    public async Task Fetch_Bearer_SendsAuthorizationBearer()
    {
        var handler = Api();
        var source = Source(Spec(Yaml("  auth: {type: bearer, token: bearer-abcdef}")), handler);

        await RunAsync(source);

        handler.Gets.Single().Headers["Authorization"].ShouldBe("Bearer bearer-abcdef");
    }

    [Fact]
    public async Task Fetch_Basic_SendsBase64OfUserAndPassword()
    {
        var handler = Api();
        var source = Source(Spec(Yaml("  auth: {type: basic, username: shop, password: pa55-word}")), handler);

        await RunAsync(source);

        handler.Gets.Single().Headers["Authorization"].ShouldBe($"Basic {Convert.ToBase64String(Encoding.UTF8.GetBytes("shop:pa55-word"))}");
    }

    [Fact]
    public async Task Fetch_UserInfoInBaseUrl_IsBasicAuthAndNeverInTheRecordedRequest()
    {
        // Given credentials inside the base URL
        var handler = Api();
        var spec = Spec("  base_url: https://shop:url-pa55@api.test\n  streams:\n    - {name: items, path: /v1/items}\n");
        var source = Source(spec, handler);

        // When
        var pages = await RunAsync(source);

        // Then they go as HTTP Basic, the URL sent and recorded has no user info, and the password is a registered secret
        handler.Gets.Single().Headers["Authorization"].ShouldBe($"Basic {Convert.ToBase64String(Encoding.UTF8.GetBytes("shop:url-pa55"))}");
        handler.Gets.Single().Url.UserInfo.ShouldBeEmpty();
        pages.Single().RedactedRequest.ShouldBe("GET https://api.test/v1/items");
        spec.Secrets.ShouldContain("url-pa55");
    }

    private const string OAuth = "  auth:\n    type: oauth2_client_credentials\n    token_url: https://auth.test/oauth/token\n    client_id: ingot\n    client_secret: cs-secret-9\n    scope: read";

    [Fact]
    public async Task Fetch_OAuth2_FetchesOneTokenAndCachesItAcrossPagesAndStreams()
    {
        // Given an OAuth 2.0 API with two streams, one paged in two pages
        var handler = Api(seen => seen.Url.AbsolutePath == "/v1/a" && ScriptedHandler.Query(seen.Url, "page") == "1" ? Reply("""[{"id":1},{"id":2}]""") : Reply(OnePage));
        var source = Source(Spec(Yaml(OAuth, "    - {name: a, path: /v1/a, paginate: {type: page, size: 2}}\n    - {name: b, path: /v1/b}")), handler);

        // When both streams are fetched
        var plan = await source.PlanAsync(Request(), Ct);
        foreach (var unit in plan.Units) await FetchAsync(source, unit);

        // Then one token request (client credentials in the form body) served all three pages
        var posts = handler.Requests.Where(r => r.Method == HttpMethod.Post).ToList();
        posts.Count.ShouldBe(1);
        posts[0].Url.ShouldBe(new Uri("https://auth.test/oauth/token"));
        posts[0].Body.ShouldBe("grant_type=client_credentials&client_id=ingot&client_secret=cs-secret-9&scope=read");
        handler.Gets.Count().ShouldBe(3);
        handler.Gets.ShouldAllBe(g => g.Headers["Authorization"] == "Bearer tok1");
    }

    [Fact]
    public async Task Fetch_OAuth2ClientAuthBasic_SendsTheClientInAuthorizationNotTheBody()
    {
        var handler = Api();
        var source = Source(Spec(Yaml(OAuth + "\n    client_auth: basic")), handler);

        await RunAsync(source);

        var post = handler.Requests.Single(r => r.Method == HttpMethod.Post);
        post.Headers["Authorization"].ShouldBe($"Basic {Convert.ToBase64String(Encoding.UTF8.GetBytes("ingot:cs-secret-9"))}");
        post.Body.ShouldBe("grant_type=client_credentials&scope=read");
    }

    [Fact]
    public async Task Fetch_OAuth2TokenNearExpiry_IsRenewedBeforeItExpires()
    {
        // Given a token that lives 600 s, and a clock
        var clock = new FakeTimeProvider(Now);
        var handler = Api(expiresIn: 600);
        var source = Source(Spec(Yaml(OAuth)), handler, clock);
        await RunAsync(source);

        // When 500 s pass, then 41 s more (inside the last minute of its life)
        clock.Advance(TimeSpan.FromSeconds(500));
        await RunAsync(source);
        clock.Advance(TimeSpan.FromSeconds(41));
        await RunAsync(source);

        // Then the token is reused while fresh and renewed before it expires
        handler.Gets.Select(g => g.Headers["Authorization"]).ShouldBe(["Bearer tok1", "Bearer tok1", "Bearer tok2"]);
    }

    [Fact]
    public async Task Fetch_OAuth2WithoutExpiresIn_KeepsTheTokenUntilA401()
    {
        var clock = new FakeTimeProvider(Now);
        var handler = Api(expiresIn: null);
        var source = Source(Spec(Yaml(OAuth)), handler, clock);

        await RunAsync(source);
        clock.Advance(TimeSpan.FromDays(2));
        await RunAsync(source);

        handler.Requests.Count(r => r.Method == HttpMethod.Post).ShouldBe(1);
    }

    [Fact]
    public async Task Fetch_OAuth2TokenRefusedWith401_RenewsOnceAndAsksThePageAgain()
    {
        // Given an API that revoked the first token
        var handler = Api(seen => seen.Headers["Authorization"] == "Bearer tok1"
            ? Reply("""{"error":"invalid_token","message":"The access token is invalid or has expired."}""", HttpStatusCode.Unauthorized)
            : Reply(OnePage));
        var source = Source(Spec(Yaml(OAuth)), handler);

        // When
        var pages = await RunAsync(source);

        // Then a second token was fetched and the page landed
        pages.Single().Records.Count.ShouldBe(1);
        handler.Requests.Count(r => r.Method == HttpMethod.Post).ShouldBe(2);
        handler.Gets.Select(g => g.Headers["Authorization"]).ShouldBe(["Bearer tok1", "Bearer tok2"]);
    }

    [Fact]
    public async Task Fetch_OAuth2RenewedTokenRefusedToo_FailsAfterOneRenewal()
    {
        var handler = Api(_ => Reply("""{"error":"invalid_token","message":"Token not valid for this audience."}""", HttpStatusCode.Unauthorized));
        var source = Source(Spec(Yaml(OAuth)), handler);

        var failure = await Should.ThrowAsync<HttpFailure>(() => RunAsync(source));

        failure.Status.ShouldBe(401);
        failure.Kind.ShouldBe(FailureKind.Permanent);
        failure.Message.ShouldBe("stream items, page 1 (GET https://api.test/v1/items): HTTP 401: Token not valid for this audience.");
        handler.Requests.Count(r => r.Method == HttpMethod.Post).ShouldBe(2);
        handler.Gets.Count().ShouldBe(2);
    }

    [Fact]
    public async Task Fetch_OAuth2ClientRefused_FailsNamingTheTokenRequestWithoutTheSecret()
    {
        var handler = new ScriptedHandler((r, _) => r.Method == HttpMethod.Post
            ? Reply("""{"error":"invalid_client","error_description":"Client authentication failed."}""", HttpStatusCode.Unauthorized)
            : Reply(OnePage));
        var spec = Spec(Yaml(OAuth));
        Ingot.Engine.PipelineRunner.RegisterSecrets(TestPipelines.Parse("name: x\nsource:\n  type: rest\n" + Yaml(OAuth) + "destinations:\n  - {type: raw, path: ./lake}\n", "x.yaml", _ => null));
        var source = Source(spec, handler);

        var failure = await Should.ThrowAsync<HttpFailure>(() => RunAsync(source));

        failure.Message.ShouldContain("OAuth 2.0 token request to https://auth.test/oauth/token failed: HTTP 401: invalid_client");
        failure.Message.ShouldNotContain("cs-secret-9");
        handler.Gets.ShouldBeEmpty();
    }

    [Fact]
    public async Task Fetch_BadApiKey_FailsAtOnceWithTheApisMessage()
    {
        // Given an API refusing the key with its JSON error body
        var handler = Api(_ => Reply("""{"error":"unauthorized","message":"Invalid API key provided."}""", HttpStatusCode.Unauthorized));
        var source = Source(Spec(Yaml("  auth: {type: api_key, query: api_key, key: wrong-key-1}")), handler, retries: 3);

        // When
        var failure = await Should.ThrowAsync<HttpFailure>(() => RunAsync(source));

        // Then no retry, the API's words, and no key in the message
        failure.Message.ShouldBe("stream items, page 1 (GET https://api.test/v1/items?api_key=***): HTTP 401: Invalid API key provided.");
        handler.Gets.Count().ShouldBe(1);
    }

    [Theory]
    [InlineData(3600, 3540)]
    [InlineData(300, 270)]
    [InlineData(10, 9)]
    public void RenewAt_Lifetime_RenewsAMinuteOrATenthEarly(double expiresIn, double renewAfterSeconds)
    {
        Ingot.Sources.Rest.RestAuth.RenewAt(Now, expiresIn).ShouldBe(Now.AddSeconds(renewAfterSeconds));
    }
}
