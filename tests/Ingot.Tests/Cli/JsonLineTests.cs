using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Cli.Output;

namespace Ingot.Tests.Cli;

public sealed class JsonLineTests
{
    [Fact]
    public void Write_GivesTheSerializersTextForEveryValueAnEventCarries()
    {
        // Given the kinds of values the run's events carry
        var fields = new Dictionary<string, object?>
        {
            ["ts"] = "2026-12-02T23:00:00.000Z", ["msg"] = "Run started \"quoted\" <b>é</b>", ["run_id"] = Guid.Parse("6f1c1a52-0c3b-4a9e-9a3e-7f1d2f0a1b2c"),
            ["n"] = 42, ["big"] = 1L << 40, ["ratio"] = 0.1 + 0.2, ["money"] = 12.50m, ["ok"] = true, ["none"] = null,
            ["at"] = new DateTimeOffset(2005, 1, 1, 11, 15, 0, TimeSpan.Zero), ["local"] = new DateTimeOffset(2005, 1, 1, 11, 15, 0, TimeSpan.FromHours(2)),
            ["stations"] = new List<string> { "COOP:010008", "COOP:010063" },
            ["scope"] = new Dictionary<string, object> { ["chunks"] = 3, ["years"] = "2005-2013", ["nested"] = new[] { 1, 2 } },
            ["streams"] = new List<Dictionary<string, object?>> { new() { ["stream"] = "precip_15", ["error"] = null } },
            ["node"] = JsonNode.Parse("""{"a":[1,"x"]}"""),
        };

        // Then the hand-written writer gives exactly what System.Text.Json's reflection serializer gave before
        var expected = JsonSerializer.Serialize(fields, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        JsonLine.Write(fields).ShouldBe(expected);
    }
}
