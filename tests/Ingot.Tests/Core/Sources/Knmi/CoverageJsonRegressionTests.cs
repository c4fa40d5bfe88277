using System.Text;
using Ingot.Sources.Knmi;

namespace Ingot.Tests.Core.Sources.Knmi;

/// <summary>Failing tests that demonstrate a CoverageJson bug (see the report); kept apart so the lead can decide.</summary>
public sealed class CoverageJsonRegressionTests
{
    [Theory]
    [InlineData("""{"type":5}""")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":6260,"domain":{"axes":{"t":{"values":[]}}},"ranges":{}}""")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":{"axes":{"t":{"values":[20200101]}}},"ranges":{}}""")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":{"axes":{"x":{"values":["5.18"]},"t":{"values":[]}}},"ranges":{}}""")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":[],"ranges":{}}""")]
    public void Parse_WrongValueTypes_ThrowsFormatException(string body)
    {
        // When / Then: the documented contract; KnmiSource only turns FormatException into a retryable failure
        Should.Throw<FormatException>(() => CoverageJson.Parse(Encoding.UTF8.GetBytes(body), DateTimeOffset.MinValue, DateTimeOffset.MaxValue));
    }
}
