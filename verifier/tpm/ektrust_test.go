package tpm_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// ekPin is a certificate of the embedded EK trust store: its common
// name (or subject) and whether it is an anchor.
type ekPin struct {
	name   string
	anchor bool
}

// ekPinned are the SHA-256 fingerprints (of the DER) of the embedded EK
// trust store: trust/ek (the corpus's roots/tpm-vendors, copied byte for
// byte) and the cloud vTPM CAs of trust/. docs/trust-anchors.md lists
// them with their files and validity.
var ekPinned = map[string]ekPin{
	"141805f04cd9b89bfbcd30cb792d5ca3a0a2382db6ee35720e6e27e4189e43a0": {"Aliyun TPM EKMF CA", true},
	"593a1794f9e17476c7ad427d2908a97c451451c9e0939fdc80d5d662c232d401": {"AMD Pluton Global Factory ICA", true},
	"14aac9fd58471a612afd75d8c0955daf99f091b1863702f9e0d4113faf234f9d": {"AMDTPM", true},
	"67bd2472a546751caca5f358a78f80727531671338960a9bcfdfbe6a34d0c6a1": {"AMDTPM", true},
	"e6c596b17f8ffefba5c300f714cfb1260c6028704ecf7becc4ab5018efb00e95": {"Azure Virtual TPM Root Certificate Authority 2023", true},
	"beb40bb7507b33967226aa80e084749fbb6593893c642e818d682e9a8d07fc24": {"CN=www.intel.com,OU=OnDie CA Root Cert Signing,O=Intel Corporation,L=Santa Clara,ST=CA,C=US", true},
	"2e1b3ba79af56d758be51697621bc4b9e8cee0983db3e749c55eb9b37c6d2ae0": {"CN=www.intel.com,OU=TPM EK root cert signing,O=Intel Corporation,L=Santa Clara,ST=CA,C=US", true},
	"594759594b9b61524f6c8ef668f7177f7b9066bc0674f2f49fe9e052be78beb2": {"EK/AK CA Root", true},
	"5a8c7b5eb888cfce9322068e80e82b28b554ffeb7fdc9638dcb3763077401d26": {"GlobalSign Trusted Platform Module ECC Root CA", true},
	"f27bf02c6e00c73d915eeb6a6a2f5fbf0c31ae0393149e6b5c31e41b113841c3": {"GlobalSign Trusted Platform Module Root CA", true},
	"10ef22859b0a98121129aa0c4647a91fd412a5a79f1c628db3bfea4278d49abf": {"IFX TPM EK Intermediate CA 01", true},
	"b33027e90f3f47bb5c0c54b18451121af0211a568eca51b68927280707b42f0e": {"IFX TPM EK Intermediate CA 02", true},
	"2b2ab3993b854e496569fd1f187a383617eec1574bef0fa8c34bc013da40935f": {"IFX TPM EK Intermediate CA 03", true},
	"c2b50c0544fbfae3f8257410818bd2228759c04150989982c1b42c397abf00a8": {"IFX TPM EK Intermediate CA 04", true},
	"ed80849cf19acd6df5895ab47c6ec91555a3081b4696b900f8e346e777177aed": {"IFX TPM EK Intermediate CA 05", true},
	"608dd48ff87759f404917c7471ec8cbe7ad972c1699d810f0e1a70fb2b02573f": {"IFX TPM EK Intermediate CA 08", true},
	"8a3e7db4445c4a795fb9e524db3ed2edf96f8423723f16ff5f71ca6b84a3e88c": {"IFX TPM EK Intermediate CA 15", true},
	"cb1a77acd98db771d35b1977eb82485f0e0f64f6deb0577a97330b5b532eb7ed": {"IFX TPM EK Intermediate CA 17", true},
	"9cd83ef4897819d545d3cccccf33ba7947e34439a93c5d45a3f136303e1c248e": {"IFX TPM EK Intermediate CA 18", true},
	"73a42ded6eab007af264a51c5a3956092cdbf5a6d209303a4e0d57416d762067": {"IFX TPM EK Intermediate CA 20", true},
	"014df370f125f4bc18c9fc4b41c17ec2311e8514fc9b622f5a633c10287c1ebd": {"IFX TPM EK Intermediate CA 21", true},
	"7df2c3751c03ce003e99174d9cb2559f57a1b05b1920dd30bb6f8dfcf17f5e62": {"IFX TPM EK Root CA", true},
	"ee0c827555c4e9012037df4257bb8aaa26084a17b13ede41cd7895c8d6c11190": {"Infineon OPTIGA(TM) ECC Root CA 2", true},
	"cfeb02fecd55ad7a73c6e1d11985d4c47dee248ab63dcb66091a2489660443c3": {"Infineon OPTIGA(TM) ECC Root CA", true},
	"b413c71580af3ec5efe83fad31db2d4af4612355e3b01e50903b10763d738894": {"Infineon OPTIGA(TM) RSA Root CA 2", true},
	"899e35474c9807eb4c7f2f7a12da0028fb250cd02154d0009fca7d9c66574f3b": {"Infineon OPTIGA(TM) RSA Root CA", true},
	"32ab5fe7cb4396659fcb621ca14c6fb8fc2420f64050637d77e45a86c5d3916e": {"Microsoft Pluton Root CA 2021", true},
	"870c7a35ceab3d59979f2c6a524042d404cb71518004350925fb2ced79a999da": {"Microsoft TPM Root Certificate Authority 2014", true},
	"44afc4b65d4f617143cf3085637e88e6ecc7710f9594b37f65a3dea82d300ba3": {"Nationz TPM Manufacturing CA 001", true},
	"083e7bd13e8fe0bb9b0c64db9e0c8356681df65714d2d5c4925eb98ae1369d40": {"NPCTxxx ECC521 RootCA", true},
	"6ccf8a8a803d07a002a15d4889ffa0b125e4a82a1fe4211db3c6e8592919f9dc": {"NSING TPM ECC ROOT CA 001", true},
	"72ca00612395af027cd84c5514219f110e964dfa0bfc1efbb3ac147e3b173971": {"NSING TPM RSA ROOT CA 001", true},
	"56b67007f448bd5c5746299fcdea9323971bbdaaefd8e3b9b84773abc888c90e": {"NTC TPM EK Root CA 01", true},
	"8fac94b462b37acb84431bdc71395585caf518c17f656051ff9c4347a4726ed9": {"NTC TPM EK Root CA 02", true},
	"887bc9658ffc6ad7f4eeb85c8819772ff609ee64c4dac4a6dca654a39e94b289": {"Nuvoton TPM Root CA 0100", true},
	"2782e51a95e86d9557fe4204316cf805bd6f5898f81f9732e944d742bcdc5f54": {"Nuvoton TPM Root CA 1110", true},
	"e38c280f7c0e0b49f31efc7531032bb6a86c3fba4eb89beb1d510eaa4510ae4a": {"Nuvoton TPM Root CA 1111", true},
	"4aebe77a51ed29959a7f9f5e07a24a558dee8167f3985d724995a541c258dfda": {"Nuvoton TPM Root CA 2110", true},
	"cd8185ff8995ed09811970090a8c36fafab34ef87f47fa51fdb9ecf95c9c2e04": {"Nuvoton TPM Root CA 2111", true},
	"66e3a1013d4f697700f731e7d68c69b58351f90ec9580d85862d020ab4abf1af": {"Nuvoton TPM Root CA 2112", true},
	"ba70a6ea7b77c7fee8947a07b1e70e0b26d39ce5e6307f63d5e4b9507f19a157": {"NuvotonTPMRootCA1210", true},
	"fc61abbc18100f460205ebe09d8c3e6995ac2be2234344a7facb62e15f9a7584": {"NuvotonTPMRootCA2210", true},
	"2bbc5db224b8f28a6d2cf336d4da7ab21c8c490e3d60ef497801dc0b6ac00227": {"NuvotonTPMRootCA2211", true},
	"695ad0f0236f047c2ccc9abacaf4d07a3e91251912cf4ac65aa49c8fff352bc5": {"STM TPM ECC Intermediate CA 02", true},
	"a4b4895991223ea2b957152e0ff0b126e8ba8ee1a563d93bc600dc86dff41095": {"STM TPM ECC Intermediate CA 03", true},
	"4a13dd436b11d705ecfbea7d7027b7a45dee1afcb53a0ed8640e13578c64bc69": {"STM TPM ECC384 Intermediate CA 01", true},
	"97a13b81a111ad41658664263bc1ca450a9245cb0bfb15717f230eacad02c0bd": {"STM TPM ECC384 Intermediate CA 02", true},
	"fd1e7b68accd825636b27b3177c67402d463a7f04c97b6c47ab705fcdc1a04f6": {"STSAFE ECC Root CA 02", true},
	"c8f179943356e13d9d84b100201cefabbf408880241e5329e60d950ce1dea623": {"STSAFE RSA Root CA 02", true},
	"9bd5285f8fb18502a7947e621ffd470266f49fcd3b73e19a190f690ad32a7caf": {"tpm_ek_v1_cloud_host_root-signer-0-2018-04-06T10:58:26-07:00 K:1, 1:Pw003HsFYO4:0:18", true},
	"9a7a58696e69eecd3f07285e3edea5efeaaddfbf4adcfc2913938c5da643fdb2": {"AMD Pluton Per-Product Factory FIPS EK ICA DFID00B20F00", false},
	"f2091977334d430d9020c13ce2705b5b3d5de48e1c147655e12e494a921fea5c": {"AMD Pluton Per-Product Factory FIPS EK ICA DFID00B20F40", false},
	"c601421a0829d9fb5dcfc7d82e5e6d45ffdaff5787f8122495f90c2e98f19774": {"AMD Pluton Per-Product Factory FIPS EK ICA DFID00B60F00", false},
	"c3e0be01e77f38a83814c0e628d220c96ea078ef4214410e85583a003f9f5315": {"AMD Pluton Per-Product Factory FIPS EK ICA DFID00B60F80", false},
	"2dc3a391ca39be4a0dc012832b012267050be789eb6f90e674b3e50f116359f9": {"AMD Pluton Per-Product Factory FIPS EK ICA DFID00B70F00", false},
	"1aa792f211d3499a9280bc6dba4db144559d7b24fad5cf4a7e32363e8a9048b6": {"AMD Pluton Per-Product Factory NON-FIPS EK ICA DFID00B20F00", false},
	"afd3a62cce9ce1c4a3cd05c634bd8bdac7def7bde312f1ce91cc1987b498ce69": {"AMD Pluton Per-Product Factory NON-FIPS EK ICA DFID00B20F40", false},
	"ba7242021e579c33384edd582405a1f85bf97021df9347a17208314c8c92949b": {"AMD Pluton Per-Product Factory NON-FIPS EK ICA DFID00B60F00", false},
	"bd8acba897d41d470362ade0c88b367c37f0549d12bd841e15c15b45e7b9cc6c": {"AMD Pluton Per-Product Factory NON-FIPS EK ICA DFID00B60F80", false},
	"08dd2c92fa16bce65cfd1984b6a5391ae81ce266625dafd71b6655bcee001686": {"AMD Pluton Per-Product Factory NON-FIPS EK ICA DFID00B70F00", false},
	"c001df02b31a60a2b37130365956400a2afcfd147e8552fd7ea3f17f2ab0d457": {"CN=www.intel.com,OU=ODCA CA2 CSME Intermediate CA", false},
	"98f575d37fcce1139ba4ddfba811d862a8262a207cb46f4c8bd0d9891e406475": {"CN=www.intel.com,OU=ODCA CA2 OSSE Intermediate CA", false},
	"e365738ed9d49110756b9fc3a72aae91e473db0f8c0aa4f3691f035c381480d7": {"CN=www.intel.com,OU=TPM EK intermediate for SPTH_EPID_PROD,O=Intel Corporation,L=Santa Clara,ST=CA,C=US", false},
	"84606234dae2d85dc110f94216b388dabc973ebef8bee1edbcd732208c8b3d5d": {"EK/AK CA Intermediate", false},
	"c84de8116dfaf5a908f21e810487791f5437e206d00ad8025050cca6bd2ff627": {"EK/AK CA Intermediate", false},
	"a2daccd149cd2eadb82045d3cd24336699a0b2d4e50237a76448d107896cf8c7": {"Global Virtual TPM CA - 01", false},
	"fd7c92dabce4dcec9feaa30f8b087ada0598413189182152b881f5564064a29c": {"Global Virtual TPM CA - 03", false},
	"64e7b27b3e4de9bc9b6ebfb23bf4f29aa71380de337229025a11ced4ae4d798b": {"Infineon OPTIGA(TM) ECC Manufacturing CA 003", false},
	"82b5355eed457a3b3a9a2057cc587834d06db33ca04fa9f36c6203af58ed0087": {"Infineon OPTIGA(TM) ECC Manufacturing CA 007", false},
	"18fb3a6b88cacf32eb70cc072de3c45150ebb8ff6deac646bac926081865aa1f": {"Infineon OPTIGA(TM) ECC Manufacturing CA 009", false},
	"aa6a2b54bfbf090b6a2a7abbe494a2b6b47520e1c2ed7807ba54efc99cbdb5c9": {"Infineon OPTIGA(TM) ECC Manufacturing CA 010", false},
	"b559a84e6332a7b4e32b4d3739e372e3c517ba5a4ccffee1daaf80bc641628ee": {"Infineon OPTIGA(TM) ECC Manufacturing CA 011", false},
	"93deddc3f9163cc5b5d96efdbb02c345cea4cb162063fbdb477f17bc18f6a0d7": {"Infineon OPTIGA(TM) ECC Manufacturing CA 016", false},
	"37152e2ff0b47fc344cba69c87e5ee49482c97df302978d65609045ac1171580": {"Infineon OPTIGA(TM) ECC Manufacturing CA 017", false},
	"fca2419f7db6d18b49d839131921b38f71e9034bb53b5583d08b3a6a4d4cab2a": {"Infineon OPTIGA(TM) ECC Manufacturing CA 018", false},
	"783a277bc48e787c74fe8bd39e5c266ebb583468785f79fd89173193390bfa21": {"Infineon OPTIGA(TM) ECC Manufacturing CA 019", false},
	"c0069f27413dc90854ef8fc3cda6066273572a9a2ba980dbf7021121fecd9beb": {"Infineon OPTIGA(TM) ECC Manufacturing CA 020", false},
	"4ae6bdecb6048cb63f787b04ca4d07a0ad972e5b4e31524bf1ad92ed467ab6f7": {"Infineon OPTIGA(TM) ECC Manufacturing CA 021", false},
	"e16bddf5b812138bee2c29643445a7f6e03ca11b6b25b1a23f9b6edf5563d1e4": {"Infineon OPTIGA(TM) ECC Manufacturing CA 022", false},
	"766507db64abf98e14d1c3c754d09d480b981c0f782a2f397e58811808b9d759": {"Infineon OPTIGA(TM) ECC Manufacturing CA 029", false},
	"504ff6a327a67e1025b1efdf1bce71ec5f38a4be68256def40bbdec2cce052f1": {"Infineon OPTIGA(TM) ECC Manufacturing CA 034", false},
	"9dc686a5e4afa415001c209c1aedd27622a53b09574e63d42296fdd617e5da97": {"Infineon OPTIGA(TM) ECC Manufacturing CA 034", false},
	"1f61aed7c9d57bae64f2ec756c6b7dbdeaa1e33b6754e1911ea42c59cdec14d4": {"Infineon OPTIGA(TM) ECC Manufacturing CA 035", false},
	"6d2e7e19a2fba84bf85266cc23276b78e33fdf505cba6d7790c52cf74f011f4a": {"Infineon OPTIGA(TM) ECC Manufacturing CA 036", false},
	"5bd8f015e92dd368384efd0352cf5b3bb8a0f42db3a017392dee45926b9d0750": {"Infineon OPTIGA(TM) RSA Manufacturing CA 003", false},
	"cfc15fe7d8cd7ae960db3fc148a97f396f791447404c53931fe97a38a50b7576": {"Infineon OPTIGA(TM) RSA Manufacturing CA 007", false},
	"9aac4a6ddc6ba1fe1a99322f8b6ae72f83ab9f17c7caf664d03d02619788e300": {"Infineon OPTIGA(TM) RSA Manufacturing CA 009", false},
	"0fef986eb5e34a2df81420707c2452abdfe386a3038f23d7568fbcc3cf54bac6": {"Infineon OPTIGA(TM) RSA Manufacturing CA 010", false},
	"a83379f92a341beb61b67f03506644940feb4b85ea504a9d2213bca52c889f89": {"Infineon OPTIGA(TM) RSA Manufacturing CA 011", false},
	"658ac01a984672bc9573cd7cf0a8a1a49b61b46ca98603ef424a88ae758cee37": {"Infineon OPTIGA(TM) RSA Manufacturing CA 016", false},
	"6935eaa62262613b08906e8cd3586bdbcd3b6b084e09f3e92b3d636a9616c8bf": {"Infineon OPTIGA(TM) RSA Manufacturing CA 017", false},
	"622c3dee97942ba7fdaa7392de6c591965bd3285f6e40a4584ca7ca308576652": {"Infineon OPTIGA(TM) RSA Manufacturing CA 018", false},
	"584d50711f86655c004be98e79e9472cfff2141c22c0e37604dc8b1f0ba2d9c8": {"Infineon OPTIGA(TM) RSA Manufacturing CA 019", false},
	"c2329f6fc23b8e189360a587c35a6ffacef97614f16aba83676155762aaf0665": {"Infineon OPTIGA(TM) RSA Manufacturing CA 020", false},
	"be3d60cdcb594b28097cb643f5e7ccacb4af36ffa0c1863fa292389681aad067": {"Infineon OPTIGA(TM) RSA Manufacturing CA 021", false},
	"d3c4ec52ed9289842c4f4e1e31fb23c4b03cc91163f9f3748b8a706d81113bed": {"Infineon OPTIGA(TM) RSA Manufacturing CA 022", false},
	"fc7160eaa18a03722b534aeaa4167fee44555a9f1d8e4d725d1b69cafd280946": {"Infineon OPTIGA(TM) RSA Manufacturing CA 029", false},
	"aa425299e6fae242cc7d5abf3d3b9bb456d8df985366bfdc920352bf261def05": {"Infineon OPTIGA(TM) RSA Manufacturing CA 034", false},
	"f251134a62f1862992855707c4b3fe5155d47691228fc2a3477014cc30c0d888": {"Infineon OPTIGA(TM) RSA Manufacturing CA 034", false},
	"9efd7b3c07f9f71757facec5472b9e8a808ba15e6dda7ae945aaf3ce5e79be52": {"Infineon OPTIGA(TM) RSA Manufacturing CA 035", false},
	"cacee4bb37b35ea86060818aac5037d26ebf41af42e9b8448da2565ad3396bb9": {"Infineon OPTIGA(TM) RSA Manufacturing CA 036", false},
	"a0d7fb8fe2a734357bda977aac363171a2422d30d07090b1f1077918042d8b78": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 039", false},
	"ce0f7129f5dafa559814687923a95c09de795b9acea35f446d5271bcc1efabf5": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 040", false},
	"6071951bed6f38f991a941788d2990ce4dd7a1eda55a5a8b4671518006597aa0": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 041", false},
	"b0756a2cd3d1fda524409d7de5c064405b3c3e8792f8358435292ab2e7248543": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 042", false},
	"d137d82c85cfc0285f707a8da2966d543e8133c54495c5a6cfc34ed2b94fcf44": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 042", false},
	"e34d823f3ebe4e22af65db89cc3689215e5b690f3a2ecd4936ae426cf5f1e856": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 052", false},
	"e3bc479138cf7285ee0da6ee38579210049707d7f4c6829a17eb84704d788420": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 054", false},
	"d751fcbd0b8c8b799f2e6d95a0d6ff2e5d4084a04d5541c4fc91559d19fc95fd": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 055", false},
	"600f0f05414e4cd0e7427fa820cc9229bcf15e20767645d76be349b6a15a4c35": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 056", false},
	"2cf44f32fa67c460493e11dce1af849d57e4f919ff5583fd71c56d8cca3a2f0c": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 059", false},
	"2a87abc0e2a2f2871b734077e5ea15f4fa0b357eee29f8fa835c8457877f092f": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 061", false},
	"ecb83698a1168441bc6772154bc46aa6f7e157fec14700c00418376a0a7bd992": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 062", false},
	"f3b7006e2f8d11c4baa57d4e68476169d0c1ee8ca9b9f4a2b3ef0130e5d72515": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 064", false},
	"8313d066a95e14e63c5ac712edf453068d1c2f5bef6da33a5d72578c8eb24aa1": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 065", false},
	"f4d2ad7c44492444ba5623ad9c48e6f3ff68c938c505ab7166587734b49d7bab": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 066", false},
	"08f02c0cf5e8ae833001517cdaee51816b8eda3d198d6c05ab93c863a5b79483": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 069", false},
	"936e535cd6a027e14b9d536c0b4f968430bae34396e16d1fe31c85a632647900": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 070", false},
	"4af52c81fd383f676f7e207f8d4446c1c0b9ca58e3d76f97806d635958e3b441": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 071", false},
	"6ee2453cbae681043e3b12d01b495c06aec4ed379842ade146b4477f486c5254": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 074", false},
	"73aa50c81ea4395eac55c0b69d58c5ec5aaf32faa259172f537ccd9d504e7780": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 075", false},
	"f53b8b0e97c66198f481674845d37780a6fdbb0233ee611ed57fbbff663acea5": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 077", false},
	"3487ebbb5e396cfe76b16db08df3e473b66ab46d63ab996a1d62ce97f93f8c8c": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 078", false},
	"f16f4aa303aa3fd16ed8c801f963494284e9e2b76c35f2910855f9f3eb540c08": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 079", false},
	"b86f35ed594350cd24b137f0b36e36e71c6cedcf8b969533330dbfdd38fcb4b4": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 080", false},
	"4a80e31f8339f342c47d6e41e342f1e685d3e701b47bf322897c699dce27db1d": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 081", false},
	"7a09cc8fcd2244974135b704d8a292862119133fd433cc2b924a0e88a5389433": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 084", false},
	"e69724c0d69de75ddc21cf5dbe5fdeef962949c232a723636fce1be14541edbf": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 085", false},
	"b45c315daf4b886a418c6d8643fddffddf8b3fabddaa183c5fc5341338529901": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 086", false},
	"7fcb7e5abc392a3cf2355e185f0817368dae8f771a4727abea3cc5b0371f5784": {"Infineon OPTIGA(TM) TPM 2.0 ECC CA 087", false},
	"94c2f74fbac0536cd78f6403508e4f1cd12a125d6be573000c45bc9ac4db3e6b": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 039", false},
	"1fbe9d46e9dc098e54bcbbfb79f0c8b0022768566630dd91717d044325b71352": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 040", false},
	"ecf9c2a461b15618fab57b50be876a04e64b1b46f07f7752638560ff1c9a9229": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 041", false},
	"753dc25c0edc22915e988db5c4810a3867793a009eb7e49b81d0443f6bca4a75": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 042", false},
	"b51df89142eac690cc57555da0e534a16378b302e0bad3edf0631a328b14ae98": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 042", false},
	"0a09f21218965091f7db189ad174eb2472dce50aad99d142f5a2c2da68f2d6c6": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 052", false},
	"70c83e5b3a4c92fa9bb4aa49d501fe969a466d935b2ec41a7b4de5ac7c013913": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 054", false},
	"f5334ebd117df16116ed8a0cbf96c9be9fa0a3d95e2fc7f929701b4ee7475048": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 055", false},
	"f7fe3ceff0dde3709b1cc6d76bea1d48bdcace5bd66061a94751fe69329b174e": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 056", false},
	"492b2158958cdededf3b658f64d9af978d9272e48ab47d16b79a0112e37488e0": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 059", false},
	"6fa464e78493ecccb2b0c3284f5fc628403be2b37c6b6af7923c151041d48b26": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 061", false},
	"919d3d0d2f07f749c6755b0488dd46599741532c8a71f05fe6c603b0d5cacd54": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 062", false},
	"0ac8ba7a0cfc281e373d7ad728dce530a68437677805adb431a06516429c8162": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 064", false},
	"aa68b599330f05537eaa29ec754edc51e37d860ab3bef88bd6993ec25a3ec22e": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 065", false},
	"f7f8781b517beba6f234e1a5275346dde5389af0fce11a9a80043a5845218a9b": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 066", false},
	"276117bab51b1368b07b6c2b42a7f7c5aa182dcfc975c4066fa6d441e8f8ed27": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 069", false},
	"51b8a0de45e6126fe2beeeb0e011ccc93f6714cbb3d4620af07c172af710dc89": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 070", false},
	"1252a8f3c180274669c3cc0b14e8fadf2e02c2e137d73234cd72fac88dcbe226": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 071", false},
	"15dae01ca632da40fe8aba3b80d01ac9d9da72b566720c566114c135863fe364": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 074", false},
	"650d16543ee052b56cc0f6727883740c55d26f225a57c50fd5ad8f64f07255da": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 075", false},
	"c9375aa439e08c79b1140ff60730dfcda8695e914d8aa06476a35fb867875834": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 077", false},
	"7fb7a06d4a5b7b439613a468c1de4606cf0addb3886ec068e354d1cbc2aee1bb": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 078", false},
	"632a0d85b225d33677f72e813092bdf629da48b43ee7883cf2e9af108532f144": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 079", false},
	"d6961a8b1c892201e6b1b7a05f061761e6697d4011270413c0bb781def210f6c": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 080", false},
	"d184842b9706a49252772309e10518edab2feab7b10d82ee445a5e585ac359be": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 081", false},
	"b67c8633b803e9feb6ed0f0b35febbcbe5f5739cbc7080c0c32e87c807555c24": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 084", false},
	"cf25d3b11567a76259aed3fa8ca90d1c92c822e8f408a60850c1748fbbda05b5": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 085", false},
	"258c2663bd8c49154e666a6582bd05712233b36732ee18dfe6a42bb762f22304": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 086", false},
	"f43aa9cc82b5baf4e60bf8b6a63341f1bdc9988a9bef00819e3f027e5584c83a": {"Infineon OPTIGA(TM) TPM 2.0 RSA CA 087", false},
	"ef3a5645e85c87823443194f5205ac590ea9d6b9b9ce06587491f95635f0ee59": {"Microsoft Pluton Policy CA A", false},
	"bf4cd3d1224b5d3f954991992ef30f91a34f7a880fabae75ad10184594ddf42b": {"NPCTxxx ECC384 LeafCA 012110", false},
	"30dd089c936d158c4515fb5cf00e0ee3f8f5ea4bc7d4844d4dec6ef23d040fc8": {"NPCTxxx ECC384 LeafCA 012111", false},
	"99517a0395f95ea8422abe75997f4be1107c0249749407f4fe1de3c1e5a43dcc": {"NPCTxxx ECC384 LeafCA 022110", false},
	"aa9a1682088775b6c2558c89a891591713ee0f23adada04e17d001a7fbbd55d0": {"NPCTxxx ECC384 LeafCA 022111", false},
	"c34a984122f0922fa0ba067a125d68bf1f2a2607ad9401cd03e565550f328a8e": {"NSING TPM ECC EK CA 001", false},
	"2ad714fe3fc7fc00905d7e8d0b6e7381faa4e3e8e009acbea7915665f3cd58ad": {"NSING TPM ECC EK CA 002", false},
	"253be961f9b4ff7c8af7672caaa15ddad95acdd3e10297c8bc36d1279caf6d93": {"NSING TPM ECC EK CA 003", false},
	"fb5e2b649e9ed0798531fc6d852e0f45e0d76082b96528c104029f0a75bb821b": {"NSING TPM ECC EK CA 004", false},
	"925234ea37b6b24c0a3664570c9a07bbe8ab5445dd56c604dbd952e3c0ec01bf": {"NSING TPM ECC EK CA 005", false},
	"0a46616fdcd342f785d33a9fda5007573d5ac0c996579b6e25dbfc15b082ad1f": {"NSING TPM RSA EK CA 001", false},
	"79a4c21809be1c7b9bcb0bc7647293c5f314cd195a29bd0227fa74c6fdd95545": {"NSING TPM RSA EK CA 002", false},
	"ac21e655a5d7095b53d9e5a12bf3ca423206dba16343af57a81054c8012073b1": {"NSING TPM RSA EK CA 003", false},
	"05d6f660498ddd6a89f78863035913a99f22f31abf76e15653f92a82b5d74bd2": {"NSING TPM RSA EK CA 004", false},
	"f42ce7148b56383290f144a57700db05d3cfbb6a317e7c882e836950de273279": {"NSING TPM RSA EK CA 005", false},
	"fb05677845426c8a2bc6350433693d3f60fdf23ee974b1c15fa267c36e9b00fc": {"Pluton Factory DEVICE EK ICA DFID0001", false},
	"dd9fe93ba283bd573106801a08d87457e7fe0cf6f1e0dd66ece8748c36ff8d8a": {"Pluton Factory DEVICE EK ICA DFID008A0F00", false},
	"623a50d989350007fb429c5e1dbc1520bf2695c3d9da258fd7377283703ed7ca": {"Pluton Factory DEVICE EK ICA DFID00A60F11", false},
	"6c15bab36424d6507e0ebcee9d9cc7ddbb4d08109033ca8fab1afbee00a8221a": {"Pluton Factory FIPS EK ICA DFID0001", false},
	"d79ccc81fbdd3a935040ab68bacf6a58ef1bebbd1ed0d2cdd8819f1c3a95e9a7": {"Pluton Factory FIPS EK ICA DFID008A0F00", false},
	"1c74e7d628fbf46ac978a5c7c5e4f1cecd5f5989e86d544611a6145e2c64b4e3": {"Pluton Factory FIPS EK ICA DFID00A60F11", false},
	"f1c664b027c9faf07f2d523d6c849f9127191573e9f325d6c4c7c56a76a8ffcc": {"PRG-RPL", false},
	"015bcfc3943540d18691bf95c939b0e560b293a835b1c32ff1dced975376ac42": {"STM TPM ECC Intermediate CA 01", false},
	"c541d7e5b9e3f935621acbd403896225ec641036c9ae3b5f7ac793a606ff9b79": {"STM TPM ECC Root CA 01", false},
	"3141ea3b55a11f632e61df027cee4b4c8a9febe312615f8898d20844a182f1ae": {"STM TPM ECC384 Intermediate CA 03 for CISCO", false},
	"6c3ba9f3ce8f095179e42b015fa1e81cf6e260e140fc5ffcb0dd418da5acafd7": {"STM TPM EK Intermediate CA 01", false},
	"dc62a3b996414573df20bcaf013f0aae47b102e599f63b23c9bf0b6448a60b53": {"STM TPM EK Intermediate CA 02", false},
	"6b26c20162a9de2d0f69dbc8c04b95c127f5ca5b153d7a01a7a6cf9ab88ad834": {"STM TPM EK Intermediate CA 03", false},
	"25e87e5f9d8215e78b1a916d5d529b5ad9b3bfb52dbbf2d8c3ab211f6124caca": {"STM TPM EK Intermediate CA 04", false},
	"870fc181411d24c81e84ec45cd9bcc87b41253342ed688eee6d9139b31b44002": {"STM TPM EK Intermediate CA 05", false},
	"9343d2d7f3c8708526e6f224563bebda23f534c518f2a1a421ebcce01557247c": {"STM TPM EK Intermediate CA 06", false},
	"19bbcef93fc0877ae66eba97ade4e15c3d77054f39cd1183486f12b8fa5c42b2": {"STM TPM EK Intermediate CA 07", false},
	"f8e37a86b689a20a6cc0c40cc3f81fb130fa9f44ce7ffa60d62590aaf87273a9": {"STM TPM EK Root CA", false},
	"af644ce30a372fc59d0185bcc515779fea77e7d662281b39b36c32bb36b2f3a9": {"STSAFE TPM ECC Intermediate CA 10", false},
	"7954a80c48f59d1bbcbc5de39da42de963bf9d6fce2e7b0614fec0abed7d0c61": {"STSAFE TPM ECC Intermediate CA 11", false},
	"ad032d3a142c4aaf35b39ade2d311e943986f4f522ebcd65cd94c5edc1416836": {"STSAFE TPM ECC Intermediate CA 20", false},
	"6a4a8e2a9c2e58540d4dd2e51ad557ec4dab706173368f3546082568e0532c5b": {"STSAFE TPM ECC Intermediate CA 21", false},
	"60f5d4cb0974202e78a9d3d2a6e0b13d1390d944a23db5aaf867ff8f8a710b74": {"STSAFE TPM RSA Intermediate CA 10", false},
	"77a174e9e1c47cb788e31ac8f39a65d07c0cd35f850da8addf427c14810af88b": {"STSAFE TPM RSA Intermediate CA 11", false},
	"01169235efd77842b40bd9030175e46894da6c0a2cd838125ee426a8c41a5374": {"STSAFE TPM RSA Intermediate CA 20", false},
	"251f0c6199a14190f978dfd39a94fcd23674f99efb880ba2a1654d49af2b06a7": {"STSAFE TPM RSA Intermediate CA 21", false},
	"5d8dbcf8c8053dd8ffad711b6219355032b7122c34cac0f90ccb49def69ec504": {"tpm_ek_v1_cloud_host-signer-0-2020-10-22T14:02:08-07:00 K:1, 2:HBNpA3TPAbM:0:18", false},
	"7132b6ea71101f6c51bb58f98c3798c19b65be510eca0344318900510b593178": {"tpm_ek_v1_cloud_host-signer-0-2021-10-12T04:22:11-07:00 K:1, 3:nbvaGZFLcuc:0:18", false},
}

func TestEmbeddedEKFingerprints(t *testing.T) {
	certs := tpm.EmbeddedEKCerts()
	if len(certs) != len(ekPinned) {
		t.Errorf("%d embedded EK store certificates, %d pinned", len(certs), len(ekPinned))
	}
	anchors := map[string]bool{}
	for _, r := range tpm.EmbeddedEKRoots() {
		s := sha256.Sum256(r.Raw)
		anchors[hex.EncodeToString(s[:])] = true
	}
	for _, c := range certs {
		s := sha256.Sum256(c.Raw)
		fp := hex.EncodeToString(s[:])
		p, ok := ekPinned[fp]
		if !ok {
			t.Errorf("%s: SHA-256 %s is not pinned", c.Subject, fp)
			continue
		}
		if anchors[fp] != p.anchor {
			t.Errorf("%s (%s): anchor %v, pinned %v", p.name, fp, anchors[fp], p.anchor)
		}
	}
}

// TestEKTrustAnchorsDoc: docs/trust-anchors.md lists every certificate of
// the EK trust store, with its role.
func TestEKTrustAnchorsDoc(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "docs", "trust-anchors.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for fp, p := range ekPinned {
		i := strings.Index(doc, fp)
		if i < 0 {
			t.Errorf("docs/trust-anchors.md does not list %s (%s)", p.name, fp)
			continue
		}
		line := doc[strings.LastIndex(doc[:i], "\n")+1 : i]
		role := "intermediate"
		if p.anchor {
			role = "anchor"
		}
		if !strings.Contains(line, "| "+role+" |") {
			t.Errorf("docs/trust-anchors.md lists %s (%s) without its role %s", p.name, fp, role)
		}
	}
}
