using System.Security.Cryptography;
using System.Text;
using Ingot.Sources;

namespace Ingot.Tests.Core.Sources;

public sealed class ChunkKeysTests
{
    private static readonly DateTimeOffset From = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2000, 3, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void For_FewStations_JoinsShortIdsAndStamps()
    {
        // When
        var key = ChunkKeys.For(["0-20000-0-06260", "0-20000-0-06240"], From, To);

        // Then
        key.ShouldBe("06260-06240_20000101T000000Z_20000301T000000Z");
    }

    [Fact]
    public void For_ManyStations_UsesFirstCountAndHash()
    {
        // Given
        string[] stations = ["0-20000-0-06260", "0-20000-0-06240", "0-20000-0-06275", "0-20000-0-06283"];
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(',', stations))))[..6];

        // When
        var key = ChunkKeys.For(stations, From, To);

        // Then
        key.ShouldBe($"06260+3-{hash}_20000101T000000Z_20000301T000000Z");
    }

    [Fact]
    public void For_ManyStationsInOtherOrder_DifferentKey()
    {
        // When
        var a = ChunkKeys.For(["0-20000-0-06260", "0-20000-0-06240", "0-20000-0-06275", "0-20000-0-06283"], From, To);
        var b = ChunkKeys.For(["0-20000-0-06260", "0-20000-0-06275", "0-20000-0-06240", "0-20000-0-06283"], From, To);

        // Then
        a.ShouldNotBe(b);
    }

    [Fact]
    public void For_NonUtcTimes_StampsInUtc()
    {
        // When
        var key = ChunkKeys.For(["06260"], new DateTimeOffset(2000, 1, 1, 2, 0, 0, TimeSpan.FromHours(2)), To);

        // Then
        key.ShouldBe("06260_20000101T000000Z_20000301T000000Z");
    }

    [Theory]
    [InlineData("0-20000-0-06260", "06260")]
    [InlineData("GHCND:USW00094728", "USW00094728")]
    [InlineData("COOP:010008", "010008")]
    [InlineData("06260", "06260")]
    [InlineData("a-b", "a-b")]
    [InlineData("0-20000-0-", "0-20000-0-")]
    [InlineData("my station/1", "my_station_1")]
    public void Short_StationId_LastSegmentMadeSafe(string station, string expected)
    {
        // When / Then
        ChunkKeys.Short(station).ShouldBe(expected);
    }

    [Theory]
    [InlineData("abc-DEF.1+2", "abc-DEF.1+2")]
    [InlineData("a b/c\\d:e*f?", "a_b_c_d_e_f_")]
    [InlineData("Zürich", "Z_rich")]
    [InlineData("..", "..")]
    public void Safe_Text_ReplacesUnsafeCharacters(string text, string expected)
    {
        // When / Then
        ChunkKeys.Safe(text).ShouldBe(expected);
    }

    [Fact]
    public void Stamp_Instant_IsCompactUtc()
    {
        // When / Then
        ChunkKeys.Stamp(new DateTimeOffset(2024, 2, 29, 23, 10, 5, TimeSpan.Zero)).ShouldBe("20240229T231005Z");
    }
}
