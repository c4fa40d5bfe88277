using System.Text;
using Ingot.Http;

namespace Ingot.Tests.Core.Http;

public sealed class ResilientHttpTests
{
    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void Classify_Knmi413Detail_IsTooLargeWithTheDetail()
    {
        // Given
        var body = B("""{"detail":"Maximum number of requested data points exceeded (total_datapoints=412000)"}""");

        // When
        var failure = ResilientHttp.Classify(413, body, "application/json");

        // Then
        failure.Kind.ShouldBe(FailureKind.TooLarge);
        failure.Status.ShouldBe(413);
        failure.IsTransient.ShouldBeFalse();
        failure.Message.ShouldBe("HTTP 413: Maximum number of requested data points exceeded (total_datapoints=412000)");
    }

    [Theory]
    [InlineData(403, """{"error": "Quota exceeded"}""")]
    [InlineData(429, """{"error": "Quota exceeded"}""")]
    [InlineData(403, """{"message":"Limit of 1000 requests per day reached"}""")]
    public void Classify_QuotaMessage_IsQuotaExhausted(int status, string body)
    {
        // When
        var failure = ResilientHttp.Classify(status, B(body), "application/json");

        // Then
        failure.Kind.ShouldBe(FailureKind.QuotaExhausted);
        failure.Status.ShouldBe(status);
    }

    [Theory]
    [InlineData(429, """{"error": "Rate limit exceeded"}""")]
    [InlineData(500, "")]
    [InlineData(502, """{"error": "There was a problem proxying the request"}""")]
    [InlineData(503, "<html><head><title>503 Service Unavailable</title></head></html>")]
    [InlineData(408, "")]
    public void Classify_ServerOrRateLimit_IsTransient(int status, string body)
    {
        // When
        var failure = ResilientHttp.Classify(status, B(body), null);

        // Then
        failure.Kind.ShouldBe(FailureKind.Transient);
        failure.IsTransient.ShouldBeTrue();
    }

    [Theory]
    [InlineData(400, """{"detail":"bad datetime"}""")]
    [InlineData(401, """{"error": "Authorization field missing"}""")]
    [InlineData(403, """{"error": "Access to this API has been disallowed"}""")]
    [InlineData(404, """{"detail":"Not Found"}""")]
    public void Classify_ClientError_IsPermanent(int status, string body)
    {
        // When
        var failure = ResilientHttp.Classify(status, B(body), "application/json");

        // Then
        failure.Kind.ShouldBe(FailureKind.Permanent);
        failure.Message.ShouldStartWith($"HTTP {status}: ");
    }

    [Fact]
    public void Classify_EmptyBody_MessageIsStatusOnly()
    {
        // When
        var failure = ResilientHttp.Classify(500, [], null);

        // Then
        failure.Message.ShouldBe("HTTP 500");
    }

    [Fact]
    public void ApiMessage_NoaaXmlFault_ExtractsDeveloperMessage()
    {
        // Given
        var body = B("""<?xml version="1.0" encoding="UTF-8" standalone="yes"?><response><statusCode>400</statusCode><userMessage>There was an error with the request.</userMessage><developerMessage>The date range must be less than 1 year.</developerMessage></response>""");

        // When
        var message = ResilientHttp.ApiMessage(body, "application/xml");

        // Then
        message.ShouldBe("The date range must be less than 1 year.");
    }

    [Fact]
    public void ApiMessage_NoaaJsonFault_PrefersDeveloperMessage()
    {
        // Given
        var body = B("""{"statusCode":"500","userMessage":"An error occured.","developerMessage":"Database timeout"}""");

        // When
        var message = ResilientHttp.ApiMessage(body, "application/json");

        // Then
        message.ShouldBe("Database timeout");
    }

    [Fact]
    public void ApiMessage_HtmlPage_ExtractsTitle()
    {
        // Given
        var body = B("<!DOCTYPE html><html><head><TITLE> 502 Bad Gateway </TITLE></head><body><h1>nginx</h1></body></html>");

        // When
        var message = ResilientHttp.ApiMessage(body, "text/html");

        // Then
        message.ShouldBe("502 Bad Gateway");
    }

    [Fact]
    public void ApiMessage_NonStringJsonValue_ReturnsRawJson()
    {
        // When
        var message = ResilientHttp.ApiMessage(B("""{"error":{"code":7}}"""), "application/json");

        // Then
        message.ShouldBe("""{"code":7}""");
    }

    [Fact]
    public void ApiMessage_LongPlainText_IsCut()
    {
        // Given
        var text = new string('x', 500);

        // When
        var message = ResilientHttp.ApiMessage(B(text), "text/plain");

        // Then
        message.ShouldBe(new string('x', 200) + "…");
    }

    [Fact]
    public void ApiMessage_EmptyBody_IsNull()
    {
        // When / Then
        ResilientHttp.ApiMessage([], null).ShouldBeNull();
    }

    [Fact]
    public void ApiMessage_BodyEchoingRegisteredSecret_IsRedacted()
    {
        // Given
        var secret = $"sk-{Guid.NewGuid():N}";
        Redact.Register(secret);

        // When
        var message = ResilientHttp.ApiMessage(B($$"""{"detail":"invalid key {{secret}}"}"""), "application/json");

        // Then
        message.ShouldBe("invalid key ***");
    }
}
