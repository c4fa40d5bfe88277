using Ingot.Http;

namespace Ingot.Tests.Core.Http;

public sealed class RedactTests
{
    [Theory]
    [InlineData("https://x.test/cdo/data?datasetid=PRECIP_15&token=abc123&limit=5", "https://x.test/cdo/data?datasetid=PRECIP_15&token=***&limit=5")]
    [InlineData("https://x.test/edr?api_key=s3cr3t", "https://x.test/edr?api_key=***")]
    [InlineData("https://x.test/a?apiKey=1&password=2&client_secret=3&q=4", "https://x.test/a?apiKey=***&password=***&client_secret=***&q=4")]
    [InlineData("https://x.test/a?datetime=2020-01-01T00:00:00Z", "https://x.test/a?datetime=2020-01-01T00:00:00Z")]
    [InlineData("https://x.test/a/b", "https://x.test/a/b")]
    [InlineData("https://shop:pa55@x.test/v1/p?since=2024-01-01T00:00:00Z", "https://***@x.test/v1/p?since=2024-01-01T00:00:00Z")]
    [InlineData("https://x.test/a?access_token=2&X-Amz-Signature=3&author=5", "https://x.test/a?access_token=***&X-Amz-Signature=***&author=5")]
    public void Url_SecretQueryValues_AreMasked(string url, string expected)
    {
        // When
        var redacted = Redact.Url(new Uri(url));

        // Then
        redacted.ShouldBe(expected);
    }

    [Fact]
    public void Url_NamedSecretParameter_IsMaskedWhateverItsName()
    {
        Redact.Url(new Uri("https://x.test/a?appid=v4lue&q=1"), ["appid"]).ShouldBe("https://x.test/a?appid=***&q=1");
    }

    [Fact]
    public void Url_RegisteredSecretInPath_IsMasked()
    {
        // Given
        var secret = $"pathsecret{Guid.NewGuid():N}";
        Redact.Register(secret);

        // When
        var redacted = Redact.Url(new Uri($"https://x.test/keys/{secret}/data?limit=1"));

        // Then
        redacted.ShouldBe("https://x.test/keys/***/data?limit=1");
    }

    [Fact]
    public void Message_RegisteredSecret_IsMaskedEverywhere()
    {
        // Given
        var secret = $"s-{Guid.NewGuid():N}";
        Redact.Register(secret);

        // When
        var redacted = Redact.Message($"Authorization: {secret}; again {secret}.");

        // Then
        redacted.ShouldBe("Authorization: ***; again ***.");
    }

    [Fact]
    public void Message_ShortOrEmptySecret_IsNotRegistered()
    {
        // Given: a three-letter 'secret' would mask ordinary words
        Redact.Register("abc");
        Redact.Register("");
        Redact.Register(null);

        // When
        var text = Redact.Message("abc def");

        // Then
        text.ShouldBe("abc def");
    }

    [Theory]
    [InlineData("GET http://user:hunter2-pw@api.test/edr?x=1", "GET http://***@api.test/edr?x=1")]
    [InlineData("postgres://bronze:s3cr3t-pw@db.test:5432/bronze", "postgres://***@db.test:5432/bronze")]
    [InlineData("Host=db;Username=bronze;Password=s3cr3t-pw;Database=x", "Host=db;Username=bronze;Password=***;Database=x")]
    [InlineData("Host=db;pwd='a;b'", "Host=db;pwd=***")]
    [InlineData("failed for https://x.test/a?api_key=k3y&q=1: refused", "failed for https://x.test/a?api_key=***&q=1: refused")]
    public void Message_UserInfoConnectionPasswordsAndKeyParameters_AreMaskedInAnyText(string text, string expected)
    {
        // When
        var redacted = Redact.Message(text);

        // Then
        redacted.ShouldBe(expected);
    }

    [Fact]
    public void SecretsIn_UrlWithUserInfo_YieldsThePassword()
    {
        // When
        var secrets = Redact.SecretsIn("http://edr-user:pa%2Bss@host/x").ToList();

        // Then
        secrets.ShouldContain("pa%2Bss");
        secrets.ShouldContain("pa+ss");
        secrets.ShouldNotContain("edr-user");
    }
}
