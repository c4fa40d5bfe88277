using Ingot.Sources.Rest;

namespace Ingot.Tests.Core.Sources.Rest;

public sealed class LookbackMemoTests
{
    private static readonly DateTimeOffset T = new(2024, 1, 31, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ToJsonThenParse_KeepsEveryVersionAndNoKeyInClear()
    {
        // Given versions at two cursor values
        var memo = new LookbackMemo();
        memo.Add(T, "\"pay_1\"").ShouldBeTrue();
        memo.Add(T, "\"pay_2\"").ShouldBeTrue();
        memo.Add(T.AddSeconds(1.5), "\"pay_1\"").ShouldBeTrue();

        // When written and read back
        var json = memo.ToJson();
        var back = LookbackMemo.Parse(json);

        // Then the same versions are known, as hashes grouped by cursor
        back.Count.ShouldBe(3);
        back.Contains(T, "\"pay_2\"").ShouldBeTrue();
        back.Contains(T.AddSeconds(1.5), "\"pay_1\"").ShouldBeTrue();
        back.Contains(T.AddSeconds(1.5), "\"pay_2\"").ShouldBeFalse();
        back.Add(T, "\"pay_1\"").ShouldBeFalse();
        json.ShouldStartWith("""{"v":1,"versions":{"2024-01-31T10:00:00Z":[""");
        json.ShouldContain("\"2024-01-31T10:00:01.5Z\":[");
        json.ShouldNotContain("pay_");
    }

    [Fact]
    public void Add_SameVersionTwice_OnlyTheFirstCounts()
    {
        var memo = new LookbackMemo();

        memo.Add(T, "k").ShouldBeTrue();
        memo.Add(T, "k").ShouldBeFalse();
        memo.Add(T.AddTicks(1), "k").ShouldBeTrue();

        memo.Count.ShouldBe(2);
    }

    [Fact]
    public void FromAndRemoveBefore_DropVersionsBeforeTheBound()
    {
        var stored = new LookbackMemo();
        stored.Add(T.AddMinutes(-10), "old");
        stored.Add(T, "edge");
        var memo = LookbackMemo.Parse(stored.ToJson());
        memo.Add(T.AddMinutes(-20), "run-old");
        memo.Add(T.AddMinutes(5), "run-new");

        var window = memo.From(T);
        memo.RemoveBefore(T);

        foreach (var m in new[] { window, memo })
        {
            m.Count.ShouldBe(2);
            m.Contains(T, "edge").ShouldBeTrue();
            m.Contains(T.AddMinutes(5), "run-new").ShouldBeTrue();
            m.Contains(T.AddMinutes(-10), "old").ShouldBeFalse();
        }
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"v":1}""")]
    [InlineData("""{"v":1,"versions":{"yesterday":["a"]}}""")]
    public void Parse_Unreadable_FailsClearly(string json)
    {
        var error = Should.Throw<InvalidDataException>(() => LookbackMemo.Parse(json));

        error.Message.ShouldStartWith("the stream's checkpoint memo");
    }
}

public sealed class CursorTimeTests
{
    private static System.Text.Json.JsonElement J(string json) => System.Text.Json.JsonDocument.Parse(json).RootElement.Clone();

    [Theory]
    [InlineData("\"2024-01-15T10:30:00Z\"", SinceFormat.Iso8601, "2024-01-15T10:30:00Z")]
    [InlineData("\"2024-01-15T11:30:00.125+01:00\"", SinceFormat.Iso8601, "2024-01-15T10:30:00.125Z")]
    [InlineData("\"2024-01-15T10:30:00\"", SinceFormat.Iso8601, "2024-01-15T10:30:00Z")]
    [InlineData("1705314600", SinceFormat.EpochSeconds, "2024-01-15T10:30:00Z")]
    [InlineData("\"1705314600\"", SinceFormat.EpochSeconds, "2024-01-15T10:30:00Z")]
    [InlineData("1705314600123", SinceFormat.EpochMilliseconds, "2024-01-15T10:30:00.123Z")]
    [InlineData("1705314600", SinceFormat.Iso8601, "2024-01-15T10:30:00Z")]
    [InlineData("1705314600123", SinceFormat.Iso8601, "2024-01-15T10:30:00.123Z")]
    public void TryRead_TimeForms_ReadAsOneInstant(string json, SinceFormat format, string expected)
    {
        CursorTime.TryRead(J(json), format, out var t).ShouldBeTrue();

        CursorTime.Format(t).ShouldBe(expected);
    }

    [Theory]
    [InlineData("\"20240115\"")]
    [InlineData("\"soon\"")]
    [InlineData("true")]
    [InlineData("{}")]
    public void TryRead_NotATime_IsRefused(string json)
    {
        CursorTime.TryRead(J(json), SinceFormat.Iso8601, out _).ShouldBeFalse();
    }

    [Theory]
    [InlineData(SinceFormat.Iso8601, "2024-01-15T10:30:00Z")]
    [InlineData(SinceFormat.EpochSeconds, "1705314600")]
    [InlineData(SinceFormat.EpochMilliseconds, "1705314600999")]
    public void Since_RoundsDownToTheFormatsPrecision(SinceFormat format, string expected)
    {
        CursorTime.Since(new DateTimeOffset(2024, 1, 15, 10, 30, 0, TimeSpan.Zero).AddTicks(9_999_999), format).ShouldBe(expected);
    }
}
