#include "datasets/catalog.h"

#include "engine/core/error.h"

namespace qt {

namespace {

// SHA-256 of the uncompressed files. Fashion-MNIST: Debian's dataset-fashion-mnist, whose
// content equals the publisher's files (their MD5 applies to the .gz, which Debian recompressed).
// MNIST: the values used by public download scripts for the files matching LeCun's MD5s.
std::vector<CatalogEntry> make_catalog() {
  std::vector<CatalogEntry> c;
  c.push_back({"fashion-mnist",
               "Fashion-MNIST (Zalando), 28×28 grey, 10 classes",
               DataFormat::idx,
               10,
               1,
               28,
               28,
               {"fashion-mnist", "fashion_mnist", "FashionMNIST/raw", "FashionMNIST"},
               {{"train-images-idx3-ubyte.gz",
                 "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
                {"train-labels-idx1-ubyte.gz",
                 "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"}},
               {{"t10k-images-idx3-ubyte.gz",
                 "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
                {"t10k-labels-idx1-ubyte.gz",
                 "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"}},
               5000,
               {0.2860f},
               {0.3530f},
               {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                "Bag", "Ankle boot"},
               "on Debian: apt-get install dataset-fashion-mnist (puts it in "
               "/usr/share/datasets/fashion-mnist); elsewhere download the four .gz files from "
               "https://github.com/zalandoresearch/fashion-mnist"});
  c.back().train_count = 60000;
  c.back().test_count = 10000;
  c.push_back({"mnist",
               "MNIST handwritten digits, 28×28 grey, 10 classes",
               DataFormat::idx,
               10,
               1,
               28,
               28,
               {"mnist", "MNIST/raw", "MNIST"},
               {{"train-images-idx3-ubyte.gz",
                 "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
                {"train-labels-idx1-ubyte.gz",
                 "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"}},
               {{"t10k-images-idx3-ubyte.gz",
                 "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
                {"t10k-labels-idx1-ubyte.gz",
                 "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}},
               5000,
               {0.1307f},
               {0.3081f},
               {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
               "download the four .gz files from https://yann.lecun.com/exdb/mnist/ or a mirror "
               "(e.g. https://ossci-datasets.s3.amazonaws.com/mnist/)"});
  c.back().train_count = 60000;
  c.back().test_count = 10000;
  c.push_back({"kmnist",
               "Kuzushiji-MNIST, 28×28 grey, 10 classes",
               DataFormat::idx,
               10,
               1,
               28,
               28,
               {"kmnist", "KMNIST/raw", "KMNIST"},
               {{"train-images-idx3-ubyte.gz", ""}, {"train-labels-idx1-ubyte.gz", ""}},
               {{"t10k-images-idx3-ubyte.gz", ""}, {"t10k-labels-idx1-ubyte.gz", ""}},
               5000,
               {0.1918f},
               {0.3483f},
               {"o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"},
               "download the MNIST-format .gz files from https://github.com/rois-codh/kmnist"});
  c.back().train_count = 60000;
  c.back().test_count = 10000;
  c.push_back({"cifar10",
               "CIFAR-10, 32×32 colour, 10 classes",
               DataFormat::cifar10,
               10,
               3,
               32,
               32,
               {"cifar10", "cifar-10-batches-bin", "cifar10/cifar-10-batches-bin",
                "CIFAR10/cifar-10-batches-bin"},
               {{"data_batch_1.bin", ""},
                {"data_batch_2.bin", ""},
                {"data_batch_3.bin", ""},
                {"data_batch_4.bin", ""},
                {"data_batch_5.bin", ""}},
               {{"test_batch.bin", ""}},
               5000,
               {0.4914f, 0.4822f, 0.4465f},
               {0.2470f, 0.2435f, 0.2616f},
               {},
               "download the binary version, cifar-10-binary.tar.gz, from "
               "https://www.cs.toronto.edu/~kriz/cifar.html and extract it (it makes "
               "cifar-10-batches-bin/)"});
  c.back().train_count = 50000;
  c.back().test_count = 10000;
  c.push_back(
      {"cifar100",
       "CIFAR-100, 32×32 colour, 100 fine or 20 coarse classes",
       DataFormat::cifar100,
       100,
       3,
       32,
       32,
       {"cifar100", "cifar-100-binary", "cifar100/cifar-100-binary", "CIFAR100/cifar-100-binary"},
       {{"train.bin", ""}},
       {{"test.bin", ""}},
       5000,
       {0.5071f, 0.4865f, 0.4409f},
       {0.2673f, 0.2564f, 0.2762f},
       {},
       "download the binary version, cifar-100-binary.tar.gz, from "
       "https://www.cs.toronto.edu/~kriz/cifar.html and extract it (it makes "
       "cifar-100-binary/)"});
  c.back().train_count = 50000;
  c.back().test_count = 10000;
  c.push_back({"imagenet",
               "ImageNet (ILSVRC-2012) converted by tools/convert_imagenet, any resolution",
               DataFormat::qtimg,
               0,
               0,
               0,
               0,
               {"imagenet"},
               {{"train.qtimg", ""}},
               {{"val.qtimg", ""}},
               10000,
               {0.485f, 0.456f, 0.406f},
               {0.229f, 0.224f, 0.225f},
               {},
               "ImageNet cannot be downloaded automatically: get ILSVRC-2012 from "
               "https://image-net.org, then run tools/convert_imagenet (see docs/datasets.md)"});
  c.back().train_count = 1281167;
  c.back().test_count = 50000;
  // Read in place, decoded on demand (datasets/image_folder.h): the "files" are its folders.
  c.push_back({"imagenet-folder",
               "ImageNet (ILSVRC-2012) JPEG folders train/ and val/, decoded while training",
               DataFormat::image_folder,
               0,
               3,
               0,
               0,
               {"imagenet"},
               {{"train", ""}},
               {{"val", ""}},
               0,  // val/ is the set the papers report: no held-out part of train/ by default
               {0.485f, 0.456f, 0.406f},
               {0.229f, 0.224f, 0.225f},
               {},
               "ImageNet cannot be downloaded automatically: get ILSVRC-2012 from "
               "https://image-net.org and extract it as train/<class>/*.JPEG and val/ "
               "(see docs/datasets.md)"});
  c.push_back({"synthetic",
               "seeded synthetic images of any shape and class count (no files)",
               DataFormat::synthetic,
               0,
               0,
               0,
               0,
               {},
               {},
               {},
               -1,  // a tenth of the training set
               {},
               {},
               {},
               "built in"});
  return c;
}

}  // namespace

const std::vector<CatalogEntry>& catalog() {
  static const std::vector<CatalogEntry> entries = make_catalog();
  return entries;
}

const CatalogEntry& catalog_entry(const std::string& name) {
  std::string names;
  for (const CatalogEntry& e : catalog()) {
    if (e.name == name) return e;
    names += (names.empty() ? "" : ", ") + e.name;
  }
  throw UsageError("unknown dataset '" + name + "': expected one of " + names);
}

}  // namespace qt
