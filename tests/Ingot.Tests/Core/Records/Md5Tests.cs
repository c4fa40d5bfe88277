using System.Text;
using Ingot.Records;

namespace Ingot.Tests.Core.Records;

public sealed class Md5Tests
{
    [Theory]
    [InlineData("", "d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("a", "0cc175b9c0f1b6a831c399e269772661")]
    [InlineData("abc", "900150983cd24fb0d6963f7d28e17f72")]
    [InlineData("message digest", "f96b697d7cb7938d525a2f31aaf161d0")]
    [InlineData("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a")]
    public void HashHexUtf8_Rfc1321TestSuite_MatchesTheRfc(string input, string expected)
    {
        // Given
        var hex = new byte[32];

        // When
        Md5.HashHexUtf8(Encoding.ASCII.GetBytes(input), hex);

        // Then
        Encoding.ASCII.GetString(hex).ShouldBe(expected);
    }

    [Fact]
    public void HashData_EveryLengthAcrossThreeBlocks_MatchesThePlatform()
    {
        // Given: lengths 0..200 cover the one- and two-block tails (55/56/63/64/119/120 bytes)
        var random = new Random(7);
        var mine = new byte[16];
        for (var length = 0; length <= 200; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);

            // When
            Md5.HashData(data, mine);

            // Then
            mine.ShouldBe(System.Security.Cryptography.MD5.HashData(data), $"length {length}");
        }
    }

    [Fact]
    public void HashData8_MixedLengthsInOneBatch_EachLaneMatchesThePlatform()
    {
        // Given batches of eight messages whose lengths differ by up to several blocks (0 to 300 bytes), at odd offsets
        var random = new Random(11);
        var digests = new byte[8 * 16];
        for (var batch = 0; batch < 200; batch++)
        {
            var lengths = Enumerable.Range(0, 8).Select(_ => random.Next(batch % 2 == 0 ? 301 : 130)).ToArray();
            var starts = new int[8];
            var buffer = new byte[lengths.Sum() + 8 * 3];
            random.NextBytes(buffer);
            for (int l = 0, at = 1; l < 8; at += lengths[l] + 3, l++) starts[l] = at;

            // When
            Md5.HashData8(buffer, starts, lengths, digests);

            // Then
            for (var l = 0; l < 8; l++)
                digests.AsSpan(16 * l, 16).ToArray().ShouldBe(System.Security.Cryptography.MD5.HashData(buffer.AsSpan(starts[l], lengths[l])), $"batch {batch}, lane {l}, {lengths[l]} bytes");
        }
    }
}
